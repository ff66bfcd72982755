package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/internal/controlplane"
	"github.com/ssakit/ssakit/internal/testcluster"
	"github.com/ssakit/ssakit/pkg/ssa"
)

const (
	migrateController = "bench-migrate"
	migrateFinalizer  = "bench.ssakit.dev/migrate"
	// migrateLegacyManager added the finalizer with controllerutil.AddFinalizer and Update.
	migrateLegacyManager = "legacy-operator"
)

// migrateRuns are the flag sets the migration is timed with: the plugin's defaults, and limits
// raised for a large fleet.
var migrateRuns = []struct {
	name  string
	flags []string
}{
	{"defaults (--qps 50 --burst 300 --concurrency 8)", nil},
	{"--qps 1000 --burst 1000 --concurrency 32", []string{"--qps", "1000", "--burst", "1000", "--concurrency", "32"}},
}

// migrate measures (7) `kubectl ssakit migrate` on Widgets whose finalizer a legacy controller
// added with Update: the built plugin, run as a user would against the control plane, on size's
// objects with two sets of flags. Each run starts on a fresh fleet, and afterwards every object's
// finalizer is checked to be owned by its manager alone.
func (b *bench) migrate(ctx context.Context, size size) ([]table, error) {
	dir, err := os.MkdirTemp("", "ssakit-bench-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }()
	plugin := filepath.Join(dir, "kubectl-ssakit")
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", plugin, "github.com/ssakit/ssakit/cmd/kubectl-ssakit").CombinedOutput(); err != nil {
		return nil, fmt.Errorf("building kubectl-ssakit: %w\n%s", err, out)
	}
	t := table{
		title: "kubectl ssakit migrate",
		intro: "Widgets whose finalizer a legacy controller added with `controllerutil.AddFinalizer` and `Update`, migrated by the built plugin " +
			"(`kubectl ssakit migrate widgets.test.ssakit.dev -n NS --controller bench-migrate --finalizer bench.ssakit.dev/migrate`): " +
			"per object a read, the apply and the takeover patch. One run per row, each on a fresh fleet; afterwards every finalizer is owned by its manager alone.",
		header: []string{"flags", "time", "objects/s", "ms per object"},
	}
	for _, run := range migrateRuns {
		b.progressf("migrate: %d objects, %s", size.objects, run.name)
		took, err := b.migrateFleet(ctx, plugin, dir, size.objects, run.flags)
		if err != nil {
			return nil, fmt.Errorf("migrating %d objects with %s: %w", size.objects, run.name, err)
		}
		t.rows = append(t.rows, []string{run.name, took.Round(100 * time.Millisecond).String(),
			fmt.Sprintf("%.0f", float64(size.objects)/took.Seconds()), fmt.Sprintf("%.1f", float64(took.Milliseconds())/float64(size.objects))})
	}
	t.notes = append(t.notes, "The defaults are kubectl's client-side limits; the server's API Priority and Fairness applies either way. "+
		"Every guard stays at any rate: each object is read again right before it is migrated, and each write carries its UID.")
	return []table{t}, nil
}

// migrateFleet creates size Widgets whose finalizer the legacy manager added, runs the plugin on
// them with flags, checks the outcome and returns how long the plugin ran.
func (b *bench) migrateFleet(ctx context.Context, plugin, dir string, size int, flags []string) (time.Duration, error) {
	ns, err := b.namespace(ctx)
	if err != nil {
		return 0, err
	}
	widgets, err := b.widgets(ctx, ns, size)
	if err != nil {
		return 0, err
	}
	err = parallel(8, size, func(i int) error {
		w := widgets[i]
		w.Finalizers = append(w.Finalizers, migrateFinalizer)
		return b.cluster.Client.Update(ctx, w, client.FieldOwner(migrateLegacyManager))
	})
	if err != nil {
		return 0, fmt.Errorf("adding the finalizer as the legacy manager: %w", err)
	}
	kubeconfig := filepath.Join(dir, ns+".kubeconfig")
	if err := controlplane.WriteKubeconfig(b.cluster.Config, ns, kubeconfig); err != nil {
		return 0, err
	}
	args := append([]string{"migrate", "widgets.test.ssakit.dev", "--kubeconfig", kubeconfig, "--controller", migrateController, "--finalizer", migrateFinalizer}, flags...)
	cmd := exec.CommandContext(ctx, plugin, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		return 0, fmt.Errorf("%w\n%s", err, stderr.String())
	}
	took := time.Since(start)
	return took, b.checkMigrated(ctx, ns, size)
}

// checkMigrated checks that each of the size Widgets in ns carries the finalizer, owned by its
// manager alone.
func (b *bench) checkMigrated(ctx context.Context, ns string, size int) error {
	list := &testcluster.WidgetList{}
	if err := b.cluster.Client.List(ctx, list, client.InNamespace(ns)); err != nil {
		return err
	}
	if len(list.Items) != size {
		return fmt.Errorf("%d Widgets, want %d", len(list.Items), size)
	}
	manager := ssa.FinalizerFieldOwner(migrateController, migrateFinalizer)
	for i := range list.Items {
		ownership, err := ssa.ParseOwnership(list.Items[i].ManagedFields)
		if err != nil {
			return err
		}
		if owners := ownership.Owners(ssa.FinalizerPath(migrateFinalizer)); len(owners) != 1 || owners[0] != manager {
			return fmt.Errorf("%s: the finalizer's owners are %v, want %s alone", list.Items[i].Name, owners, manager)
		}
	}
	return nil
}
