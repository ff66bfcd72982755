package controller

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// AcceptFromAnnotation on a Namespace is its consent to receive copies: the namespaces whose
// ConfigMirrors may copy into it, comma-separated, or * for any. Without it, the operator writes
// nothing there. The kube-* namespaces and the operator's own accept only the source namespaces
// the annotation names: * does not cover them.
//
// Only whoever may edit the Namespace object can set it: cluster admins, or those a RoleBinding
// in that very namespace grants patch on namespaces. A tenant with a Role in its own namespace
// cannot make another namespace accept its copies. The consent is given to a source namespace as
// a whole, because whoever may write ConfigMaps there decides what the copies hold.
//
// When a namespace withdraws its consent, the operator deletes the copies it made there (only
// those: see [Mirror]) and writes nothing more.
const AcceptFromAnnotation = "mirror.ssakit.dev/accept-from"

// systemNamespacePrefix starts the names Kubernetes reserves for its own namespaces (kube-system,
// kube-public, kube-node-lease).
const systemNamespacePrefix = "kube-"

// accepts reports whether namespace ns accepts copies from ConfigMirrors in the namespace source;
// when it does not, why says so for a target's status, and what a namespace admin would set.
func (m *Mirror) accepts(ns *corev1.Namespace, source string) (ok bool, why string) {
	value, annotated := ns.Annotations[AcceptFromAnnotation]
	var accepted []string
	for name := range strings.SplitSeq(value, ",") {
		if name = strings.TrimSpace(name); name != "" {
			accepted = append(accepted, name)
		}
	}
	guarded := ""
	switch {
	case strings.HasPrefix(ns.Name, systemNamespacePrefix):
		guarded = "a namespace of Kubernetes' own"
	case m.operatorNamespace != "" && ns.Name == m.operatorNamespace:
		guarded = "the operator's own namespace"
	}
	switch {
	case slices.Contains(accepted, source):
		return true, ""
	case slices.Contains(accepted, "*") && guarded == "":
		return true, ""
	case slices.Contains(accepted, "*"):
		return false, fmt.Sprintf("namespace %s is %s, where * in the annotation %s does not count; the operator writes nothing there: an admin of %s must name %s in the annotation",
			ns.Name, guarded, AcceptFromAnnotation, ns.Name, source)
	case annotated:
		// The list is not repeated: it is the namespace's business, and the status and events
		// are read in the mirror's namespace.
		return false, fmt.Sprintf("namespace %s does not accept copies from %s: its annotation %s does not name %s; the operator writes nothing there: an admin of %s must add %s to the annotation",
			ns.Name, source, AcceptFromAnnotation, source, ns.Name, source)
	}
	return false, fmt.Sprintf("namespace %s has not agreed to receive copies; the operator writes nothing there: an admin of %s must annotate it %s=%s (source namespaces, comma-separated)",
		ns.Name, ns.Name, AcceptFromAnnotation, source)
}
