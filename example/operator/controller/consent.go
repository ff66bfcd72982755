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
// when it does not, why says so for a target's status, and what a namespace admin would set. why is
// the same whatever the annotation holds: the status and events are read in the mirror's
// namespace, and the namespace's list is its own business.
func (m *Mirror) accepts(ns *corev1.Namespace, source string) (ok bool, why string) {
	var accepted []string
	for name := range strings.SplitSeq(ns.Annotations[AcceptFromAnnotation], ",") {
		if name = strings.TrimSpace(name); name != "" {
			accepted = append(accepted, name)
		}
	}
	guarded := strings.HasPrefix(ns.Name, systemNamespacePrefix) || (m.operatorNamespace != "" && ns.Name == m.operatorNamespace)
	if slices.Contains(accepted, source) || (slices.Contains(accepted, "*") && !guarded) {
		return true, ""
	}
	return false, fmt.Sprintf("namespace %s does not accept copies from %s; the operator writes nothing there: an admin of %s must name %s in its annotation %s "+
		"(source namespaces, comma-separated; * does not cover the kube-* namespaces or the operator's own)",
		ns.Name, source, ns.Name, source, AcceptFromAnnotation)
}
