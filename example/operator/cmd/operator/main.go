// Command operator runs the ConfigMirror operator against the cluster of the current kubeconfig
// (--kubeconfig, $KUBECONFIG, ~/.kube/config) or, inside a Pod, the in-cluster config.
package main

import (
	"flag"
	"os"
	"strings"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/ssakit/ssakit/example/operator/controller"
	"github.com/ssakit/ssakit/example/operator/setup"
)

// serviceAccountNamespace is where a Pod's service account token tells its namespace.
const serviceAccountNamespace = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"

func main() {
	var opts setup.Options
	flag.StringVar(&opts.MetricsAddr, "metrics-bind-address", ":8080", `address the metrics endpoint binds to; "0" disables it`)
	flag.StringVar(&opts.HealthAddr, "health-probe-bind-address", ":8081", "address the health and readiness probes bind to")
	flag.BoolVar(&opts.LeaderElection, "leader-elect", false, "elect a leader, so that only one replica reconciles at a time")
	flag.StringVar(&opts.LeaderElectionNamespace, "leader-election-namespace", "", "namespace of the leader-election Lease (default: the Pod's namespace)")
	flag.StringVar(&opts.Namespace, "namespace", podNamespace(),
		"the namespace the operator runs in, which accepts copies only from the source namespaces its annotation "+controller.AcceptFromAnnotation+" names (default: $POD_NAMESPACE, or the service account's namespace in a Pod)")
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	setupLog := ctrl.Log.WithName("setup")

	cfg, err := ctrl.GetConfig()
	if err != nil {
		setupLog.Error(err, "No cluster to talk to: pass --kubeconfig, set KUBECONFIG, or run in a Pod")
		os.Exit(1)
	}
	mgr, err := setup.NewManager(cfg, opts)
	if err != nil {
		setupLog.Error(err, "Setting up the operator failed")
		os.Exit(1)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Adding the health check failed")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "Adding the readiness check failed")
		os.Exit(1)
	}
	setupLog.Info("Starting the ConfigMirror operator", "namespace", opts.Namespace)
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		setupLog.Error(err, "The operator stopped with an error")
		os.Exit(1)
	}
}

// podNamespace is the namespace of the operator's Pod: POD_NAMESPACE (config/manager/deployment.yaml
// sets it with the downward API), else the service account's; empty outside a Pod.
func podNamespace() string {
	if ns := os.Getenv("POD_NAMESPACE"); ns != "" {
		return ns
	}
	ns, err := os.ReadFile(serviceAccountNamespace)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(ns))
}
