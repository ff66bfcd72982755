// Package minimal runs the Site controller of example/minimal in a real controller-runtime
// Manager against the test control plane, with its CRD as controller-gen generated it.
package minimal

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	minimalv1alpha1 "github.com/ssakit/ssakit/example/minimal/api/v1alpha1"
	"github.com/ssakit/ssakit/example/minimal/controller"
	"github.com/ssakit/ssakit/example/minimal/dns"
	"github.com/ssakit/ssakit/internal/testcluster"
)

// deleteDelay is how long the simulated DNS provider takes to delete a record: long enough to see
// a Site held by its finalizer, short enough for a quick test.
const deleteDelay = 2 * time.Second

var (
	cluster *testcluster.Cluster
	// user is an admin client that knows Site; it plays the user and checks results.
	user client.Client
	// records is the DNS provider the controller runs with.
	records = dns.NewMemory(deleteDelay)
)

func TestMain(m *testing.M) {
	// Run's code must reach os.Exit: when the control plane or the controller cannot start,
	// m.Run never runs, and a TestMain that just returns would report the package as passing.
	os.Exit(testcluster.Run(m, &cluster, startController, "../../../example/minimal/config/crd"))
}

// startController starts a Manager running the Site controller, as cmd/main.go does, for the
// whole test binary.
func startController(c *testcluster.Cluster) (func(), error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, err
	}
	if err := minimalv1alpha1.AddToScheme(scheme); err != nil {
		return nil, err
	}
	var err error
	if user, err = client.New(c.Config, client.Options{Scheme: scheme}); err != nil {
		return nil, err
	}
	mgr, err := ctrl.NewManager(c.Config, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	if err != nil {
		return nil, err
	}
	if err := controller.SetupWithManager(mgr, records); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			fmt.Printf("the Site controller stopped with: %v\n", err)
		}
	}, nil
}
