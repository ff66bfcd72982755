// Command minimal runs the Site controller of the minimal example against the cluster of the
// current kubeconfig (--kubeconfig, $KUBECONFIG, ~/.kube/config), with a DNS provider simulated in
// memory whose records take --dns-delete-delay to delete. Install the CRD (config/crd) first;
// example/minimal/README.md says how, on the project's own control plane.
package main

import (
	"flag"
	"os"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	minimalv1alpha1 "github.com/ssakit/ssakit/example/minimal/api/v1alpha1"
	"github.com/ssakit/ssakit/example/minimal/controller"
	"github.com/ssakit/ssakit/example/minimal/dns"
)

func main() {
	deleteDelay := flag.Duration("dns-delete-delay", 10*time.Second, "how long the simulated DNS provider takes to delete a record")
	metricsAddr := flag.String("metrics-bind-address", "0", `address the metrics endpoint binds to, ":8080" say; "0" disables it`)
	zapOpts := zap.Options{Development: true}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	setupLog := ctrl.Log.WithName("setup")

	if err := run(*deleteDelay, *metricsAddr); err != nil {
		setupLog.Error(err, "The Site controller stopped with an error")
		os.Exit(1)
	}
}

func run(deleteDelay time.Duration, metricsAddr string) error {
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return err
	}
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return err
	}
	if err := minimalv1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: metricsAddr}})
	if err != nil {
		return err
	}
	if err := controller.SetupWithManager(mgr, dns.NewMemory(deleteDelay)); err != nil {
		return err
	}
	ctrl.Log.WithName("setup").Info("Starting the Site controller", "dnsDeleteDelay", deleteDelay)
	return mgr.Start(ctrl.SetupSignalHandler())
}
