// Package operator runs the example ConfigMirror operator, as a user bound to exactly its
// generated ClusterRole, against the test control plane: end to end, its manifests, and the
// demo's story.
package operator

import (
	"context"
	"fmt"
	"os"
	"testing"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/example/operator/config"
	"github.com/ssakit/ssakit/example/operator/setup"
	"github.com/ssakit/ssakit/internal/testcluster"
)

const (
	// operatorUser is the identity the operator runs as: bound to the generated ClusterRole only.
	operatorUser = "configmirror-operator"
	// operatorNamespace is the namespace the operator is told it runs in, that of
	// config/manager: like kube-system, it accepts copies only from namespaces it names.
	operatorNamespace = "configmirror-system"
)

var (
	cluster *testcluster.Cluster
	// user is an admin client that knows ConfigMirror; it plays the user and checks results.
	user client.Client
	// operatorRequests records every request the operator sends.
	operatorRequests *testcluster.Recorder
)

func TestMain(m *testing.M) {
	// Run's code must reach os.Exit: when the control plane or the operator cannot start, m.Run
	// never runs, and a TestMain that just returns would report the package as passing.
	os.Exit(testcluster.Run(m, &cluster, startOperator, "../../../example/operator/config/crd"))
}

// startOperator binds operatorUser to the generated ClusterRole and starts the operator's
// Manager as that user, for the whole test binary.
func startOperator(c *testcluster.Cluster) (func(), error) {
	ctx := context.Background()
	scheme, err := setup.Scheme()
	if err != nil {
		return nil, err
	}
	if user, err = client.New(c.Config, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	role, err := generatedRole()
	if err != nil {
		return nil, err
	}
	if err := user.Create(ctx, role); err != nil {
		return nil, fmt.Errorf("creating the generated ClusterRole: %w", err)
	}
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: operatorUser + "-under-test"},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: operatorUser}},
	}
	if err := user.Create(ctx, binding); err != nil {
		return nil, err
	}
	if err := user.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: operatorNamespace}}); err != nil {
		return nil, err
	}
	restricted, err := c.AddUser(operatorUser)
	if err != nil {
		return nil, err
	}
	// client-go's default rate limit (a few requests a second) would make the tests that create
	// many mirrors wait on the client, not on the operator.
	restricted.QPS, restricted.Burst = 500, 1000
	restricted, operatorRequests = testcluster.Recording(restricted)
	mgr, err := setup.NewManager(restricted, setup.Options{MetricsAddr: "0", HealthAddr: "0", Namespace: operatorNamespace})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Printf("operator stopped with: %v\n", err)
		}
	}, nil
}

// generatedRole is config/rbac/role.yaml, as controller-gen wrote it.
func generatedRole() (*rbacv1.ClusterRole, error) {
	objects, err := config.Objects()
	if err != nil {
		return nil, err
	}
	docs := objects["rbac/role.yaml"]
	if len(docs) != 1 || docs[0].GetKind() != "ClusterRole" {
		return nil, fmt.Errorf("config/rbac/role.yaml should hold one ClusterRole, holds %d objects", len(docs))
	}
	role := &rbacv1.ClusterRole{}
	return role, runtime.DefaultUnstructuredConverter.FromUnstructured(docs[0].Object, role)
}
