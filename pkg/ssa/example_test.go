package ssa_test

import (
	"context"
	"errors"
	"fmt"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/managedfields"
	clientgoac "k8s.io/client-go/applyconfigurations"
	corev1ac "k8s.io/client-go/applyconfigurations/core/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/structured-merge-diff/v6/fieldpath"

	"github.com/ssakit/ssakit/pkg/ssa"
	"github.com/ssakit/ssakit/pkg/ssatest"
)

// A demo object as a reconciler reads it: a user applied data and labels, the operator's
// finalizer manager owns its finalizer, and a legacy controller once added the same finalizer
// with Update.
func demoConfigMap() *corev1.ConfigMap {
	return &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "demo", Name: "settings", UID: types.UID("4b1d"),
			Labels:     map[string]string{"app": "demo"},
			Finalizers: []string{"example.com/cleanup"},
			ManagedFields: []metav1.ManagedFieldsEntry{{
				Manager: "kubectl", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1",
				FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:data":{"f:mode":{}},"f:metadata":{"f:labels":{"f:app":{}}}}`),
			}, {
				Manager: "demo/finalizer", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1",
				FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:finalizers":{"v:\"example.com/cleanup\"":{}}}}`),
			}, {
				Manager: "legacy-operator", Operation: metav1.ManagedFieldsOperationUpdate, APIVersion: "v1",
				FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:metadata":{"f:finalizers":{".":{},"v:\"example.com/cleanup\"":{}}}}`),
			}},
		},
		Data: map[string]string{"mode": "fast"},
	}
}

func ExampleNewFinalizer() {
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), ctrl.Options{})
	if err != nil {
		panic(err)
	}
	// The finalizer is owned by a field manager of its own,
	// "configmirror/finalizer/mirror.ssakit.dev/cleanup". Add and Remove never read; the API
	// reader serves IsOnLive, which must not answer from the manager's cache.
	cleanup, err := ssa.NewFinalizer(mgr.GetClient(), "configmirror", "mirror.ssakit.dev/cleanup", ssa.FinalizerOptions{APIReader: mgr.GetAPIReader()})
	if err != nil {
		panic(err) // an *ssa.InvalidNameError says which rule the name breaks
	}
	fmt.Println(cleanup.FieldOwner())
}

func ExampleFinalizerFieldOwner() {
	// Each finalizer gets a manager of its own, so one finalizer's apply never drops another.
	fmt.Println(ssa.FinalizerFieldOwner("configmirror", "mirror.ssakit.dev/cleanup"))
	fmt.Println(ssa.FinalizerFieldOwner("configmirror", "mirror.ssakit.dev/backup"))
	// Output:
	// configmirror/finalizer/mirror.ssakit.dev/cleanup
	// configmirror/finalizer/mirror.ssakit.dev/backup
}

func ExampleFinalizer_Add() {
	ctx := context.Background()
	mirror := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "mirror"}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(mirror).Build()
	if err := c.Get(ctx, client.ObjectKeyFromObject(mirror), mirror); err != nil { // as a reconciler reads it
		panic(err)
	}
	cleanup, err := ssa.NewFinalizer(c, "configmirror", "mirror.ssakit.dev/cleanup", ssa.FinalizerOptions{})
	if err != nil {
		panic(err)
	}

	for range 2 {
		sent, err := cleanup.Add(ctx, mirror)
		switch {
		case errors.Is(err, ssa.ErrTerminating):
			// Deletion started before the finalizer was added: clean up now.
		case errors.Is(err, ssa.ErrGone), errors.Is(err, ssa.ErrReplaced):
			// Nothing to do for the object that was read.
		case err != nil:
			panic(err) // a reconciler returns it, and is retried
		}
		// The second Add finds the finalizer owned on the answer the first left in mirror.
		fmt.Println(sent, mirror.Finalizers)
	}
	// Output:
	// true [mirror.ssakit.dev/cleanup]
	// false [mirror.ssakit.dev/cleanup]
}

func ExampleFinalizer_Remove() {
	ctx := context.Background()
	mirror := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "mirror"}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(mirror).Build()
	if err := c.Get(ctx, client.ObjectKeyFromObject(mirror), mirror); err != nil {
		panic(err)
	}
	cleanup, _ := ssa.NewFinalizer(c, "configmirror", "mirror.ssakit.dev/cleanup", ssa.FinalizerOptions{})
	if _, err := cleanup.Add(ctx, mirror); err != nil {
		panic(err)
	}

	// Remove always sends: mirror may be older than the finalizer.
	sent, err := cleanup.Remove(ctx, mirror)
	if coOwned, ok := errors.AsType[*ssa.CoOwnedError](err); ok {
		// Still there: other managers own it too. coOwned.CoOwners names them.
		fmt.Println(coOwned.CoOwners)
	}
	fmt.Println(sent, err, mirror.Finalizers)
	// Output:
	// true <nil> []
}

func ExampleFinalizer_IsOn() {
	renamed, _ := ssa.NewFinalizer(nil, "flyte", "flyte.org/finalizer", ssa.FinalizerOptions{FormerNames: []string{"flyte-finalizer"}})
	// IsOn looks at the object in hand only; IsOnLive reads the API server.
	old := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Finalizers: []string{"flyte-finalizer"}}}
	none := &corev1.ConfigMap{}
	fmt.Println(renamed.IsOn(old), renamed.IsOn(none))
	// Output: true false
}

func ExampleEntry_IsApplyOf() {
	ownership, _ := ssa.ParseOwnership(demoConfigMap().GetManagedFields())
	for _, e := range ownership.Entries {
		// The one entry demo/finalizer's applies to the main resource change.
		if e.IsApplyOf("demo/finalizer", "") {
			fmt.Println(e, e.Fields.Has(ssa.FinalizerPath("example.com/cleanup")))
		}
	}
	// Output: demo/finalizer (Apply) true
}

func ExampleOwnership_FieldsOf() {
	ownership, _ := ssa.ParseOwnership(demoConfigMap().GetManagedFields())
	// Every field a manager owns, through any operation on any subresource.
	fields := ownership.FieldsOf("legacy-operator")
	fmt.Println(fields.Has(ssa.FinalizerPath("example.com/cleanup")), fields.Has(fieldpath.MakePathOrDie("data", "mode")))
	// Output: true false
}

func ExampleCheckFinalizerName() {
	for _, name := range []string{"example.com/cleanup", "legacy-finalizer", "Foo_bar!", "orphan"} {
		check := ssa.CheckFinalizerName(name)
		fmt.Printf("%s: %s, NewFinalizer accepts it: %v\n", name, check.Class, check.Err == nil)
	}
	fmt.Println(ssa.CheckFinalizerName("legacy-finalizer").Warning)
	// Output:
	// example.com/cleanup: qualified, NewFinalizer accepts it: true
	// legacy-finalizer: unqualified, NewFinalizer accepts it: false
	// Foo_bar!: invalid, NewFinalizer accepts it: false
	// orphan: reserved, NewFinalizer accepts it: false
	// metadata.finalizers: "legacy-finalizer": prefer a domain-qualified finalizer name to avoid accidental conflicts with other finalizer writers
}

func ExampleParseOwnership() {
	ownership, err := ssa.ParseOwnership(demoConfigMap().GetManagedFields())
	if err != nil {
		panic(err)
	}
	for _, e := range ownership.Entries {
		fmt.Println(e)
	}
	fmt.Println(ownership.Owners(fieldpath.MakePathOrDie("data", "mode")))
	fmt.Println(ownership.Owners(ssa.FinalizerPath("example.com/cleanup")))
	fmt.Print(ownership.FieldsOf("kubectl").Leaves())
	// Output:
	// kubectl (Apply)
	// demo/finalizer (Apply)
	// legacy-operator (Update)
	// [kubectl]
	// [demo/finalizer legacy-operator]
	// .data.mode
	// .metadata.labels.app
}

func ExampleOwnership_CheckNoOverlap() {
	ownership, _ := ssa.ParseOwnership(demoConfigMap().GetManagedFields())
	fmt.Println(ownership.CheckNoOverlap("kubectl", "demo/finalizer"))
	fmt.Println(ownership.CheckNoOverlap("demo/finalizer", "legacy-operator"))
	// Output:
	// <nil>
	// field managers overlap on 1 field(s): .metadata.finalizers[="example.com/cleanup"]: "demo/finalizer", "legacy-operator"
}

func ExampleBlame() {
	out, err := ssa.Blame(demoConfigMap())
	if err != nil {
		panic(err)
	}
	fmt.Print(out)
	// Output:
	// .data.mode                                    "fast"  kubectl (Apply)
	// .metadata.finalizers                                  legacy-operator (Update)
	// .metadata.finalizers[="example.com/cleanup"]          demo/finalizer (Apply), legacy-operator (Update)
	// .metadata.labels.app                          "demo"  kubectl (Apply)
}

func ExampleOwnedFields() {
	fields, err := ssa.OwnedFields(demoConfigMap())
	if err != nil {
		panic(err)
	}
	for _, f := range fields {
		if len(f.Owners) > 1 {
			fmt.Println(f.Path, "is owned by", f.Owners[0].Manager, "and", f.Owners[1].Manager)
		}
	}
	// Output:
	// .metadata.finalizers[="example.com/cleanup"] is owned by demo/finalizer and legacy-operator
}

func ExampleKeepManagedFieldsOf() {
	// In a controller-runtime manager: cache.Options{DefaultTransform: ...}.
	_ = cache.Options{DefaultTransform: ssa.KeepManagedFieldsOf("demo/finalizer", "demo")}

	transform := ssa.KeepManagedFieldsOf("demo/finalizer")
	obj, _ := transform(demoConfigMap())
	for _, e := range obj.(*corev1.ConfigMap).ManagedFields {
		fmt.Println(e.Manager)
	}
	// Output:
	// demo/finalizer
}

func ExampleFromApplyError() {
	var (
		ctx context.Context
		c   client.Client
	)
	ref := ssa.ObjectRef{GroupVersionKind: corev1.SchemeGroupVersion.WithKind("ConfigMap"), Namespace: "demo", Name: "settings"}
	config := corev1ac.ConfigMap("settings", "demo").WithData(map[string]string{"mode": "slow"})
	err := ssa.FromApplyError(ref, c.Apply(ctx, config, client.FieldOwner("demo")))
	if conflict, ok := errors.AsType[*ssa.ConflictError](err); ok {
		for _, c := range conflict.Conflicts {
			fmt.Println(c.Path, "is owned by", c.Manager)
		}
	}
}

func ExampleOwnership_Overlaps() {
	ownership, _ := ssa.ParseOwnership(demoConfigMap().GetManagedFields())
	for _, overlap := range ownership.Overlaps() {
		fmt.Println(overlap)
	}
	// Output:
	// .metadata.finalizers[="example.com/cleanup"]: "demo/finalizer", "legacy-operator"
}

func ExampleFinalizerPath() {
	fmt.Println(ssa.FinalizerPath("example.com/cleanup"))
	// Output:
	// .metadata.finalizers[="example.com/cleanup"]
}

func ExampleOwnership_Owners() {
	ownership, _ := ssa.ParseOwnership(demoConfigMap().GetManagedFields())
	fmt.Println(ownership.Owners(ssa.FinalizerPath("example.com/cleanup")))
	fmt.Println(ownership.Owners(fieldpath.MakePathOrDie("metadata", "labels", "app")))
	// Output:
	// [demo/finalizer legacy-operator]
	// [kubectl]
}

func ExampleMayChange() {
	// live is the ConfigMap as the cache holds it: kubectl's Apply entry owns .data.mode. The
	// first converter that knows a kind decides: for a custom resource, put the one generated
	// with its apply configurations (applyconfiguration.NewTypeConverter(scheme)) first.
	live := demoConfigMap()
	types := []managedfields.TypeConverter{clientgoac.NewTypeConverter(clientgoscheme.Scheme)}
	config := func(mode string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"data": map[string]any{"mode": mode}}}
		u.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("ConfigMap"))
		u.SetNamespace("demo")
		u.SetName("settings")
		u.SetLabels(map[string]string{"app": "demo"})
		return u
	}
	fmt.Println(ssa.MayChange(types, live, config("fast"), "kubectl", ""))      // same fields, same values
	fmt.Println(ssa.MayChange(types, live, config("slow"), "kubectl", ""))      // a value changes
	fmt.Println(ssa.MayChange(types, live, config("fast"), "someone-else", "")) // ownership changes
	// Output:
	// false
	// true
	// true
}

func ExampleFinalizer_IsOnLive() {
	ctx := context.Background()
	cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings"}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(cm).Build()
	// In a manager, the API reader is mgr.GetAPIReader(): IsOnLive must not answer from the cache.
	cleanup, _ := ssa.NewFinalizer(c, "example", "example.com/cleanup", ssa.FinalizerOptions{APIReader: c})
	stale := cm.DeepCopy() // read before the finalizer was added

	if _, err := cleanup.Add(ctx, cm); err != nil {
		panic(err)
	}
	live, err := cleanup.IsOnLive(ctx, stale)
	fmt.Println(live, err, cleanup.IsOn(stale))
	// Output:
	// true <nil> false
}

func ExampleFinalizerOptions_fieldOwner() {
	// A controller that used to apply its finalizer as "legacy-operator" keeps that manager, so
	// the finalizers it applied before stay owned by the Finalizer.
	cleanup, err := ssa.NewFinalizer(nil, "example", "example.com/cleanup", ssa.FinalizerOptions{FieldOwner: "legacy-operator"})
	fmt.Println(cleanup.FieldOwner(), err)
	// Output:
	// legacy-operator <nil>
}

func ExampleFinalizerOptions_allowUnqualifiedName() {
	// A name without a "/" only works on custom resources, and the server warns on each add.
	_, err := ssa.NewFinalizer(nil, "example", "example-cleanup", ssa.FinalizerOptions{})
	fmt.Println(err != nil)
	cleanup, err := ssa.NewFinalizer(nil, "example", "example-cleanup", ssa.FinalizerOptions{AllowUnqualifiedName: true})
	fmt.Println(cleanup.Name(), err)
	// Output:
	// true
	// example-cleanup <nil>
}

func ExampleNewApplier() {
	// In a controller: ssa.NewApplier(mgr.GetClient(), "configmirror", ssa.ApplierOptions{TypeConverters: []managedfields.TypeConverter{generatedTypeConverter}})
	// for custom resources; client-go's built-in types are always known.
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	copies := ssa.NewApplier(c, "configmirror", ssa.ApplierOptions{})
	fmt.Println(copies.FieldOwner())
	// Output: configmirror
}

func ExampleApplier_Apply() {
	ctx := context.Background()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	copies := ssa.NewApplier(c, "configmirror", ssa.ApplierOptions{})
	config := func(color string) *corev1ac.ConfigMapApplyConfiguration {
		return corev1ac.ConfigMap("settings", "team-a").WithData(map[string]string{"color": color})
	}

	created, err := copies.Apply(ctx, nil, config("blue")) // no copy held yet: sent
	if err != nil {
		panic(err)
	}
	live := &corev1.ConfigMap{} // the controller's copy, as its cache would hold it
	if err := c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "settings"}, live); err != nil {
		panic(err)
	}
	unchanged, err := copies.Apply(ctx, live, config("blue")) // live shows it applied: not sent
	if err != nil {
		panic(err)
	}
	changed, err := copies.Apply(ctx, live, config("green")) // sent; live becomes the answer
	if err != nil {
		panic(err)
	}

	fmt.Println(created, unchanged, changed, live.Data["color"])
	// Output: true false true green
}

func ExampleApplier_WouldChange() {
	live := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "settings", ManagedFields: []metav1.ManagedFieldsEntry{{
			Manager: "configmirror", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "v1",
			FieldsType: "FieldsV1", FieldsV1: metav1.NewFieldsV1(`{"f:data":{"f:color":{},"f:size":{}}}`),
		}}},
		Data: map[string]string{"color": "blue", "size": "L"},
	}
	copies := ssa.NewApplier(ssatest.NewClientBuilder(clientgoscheme.Scheme).Build(), "configmirror", ssa.ApplierOptions{})

	same, _ := copies.WouldChange(live, corev1ac.ConfigMap("settings", "team-a").WithData(map[string]string{"color": "blue", "size": "L"}))
	// The manager owns size, which this configuration drops: the apply would delete it.
	dropped, _ := copies.WouldChange(live, corev1ac.ConfigMap("settings", "team-a").WithData(map[string]string{"color": "blue"}))

	fmt.Println(same, dropped)
	// Output: false true
}

func ExampleFinalizerOptions_takeOverLegacy() {
	ctx := context.Background()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	// A legacy controller added the finalizer with controllerutil.AddFinalizer and Update.
	settings := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings"}}
	if err := c.Create(ctx, settings, client.FieldOwner("user")); err != nil {
		panic(err)
	}
	settings.Finalizers = []string{"example.com/cleanup"}
	if err := c.Update(ctx, settings, client.FieldOwner("legacy-operator")); err != nil {
		panic(err)
	}

	// Its successor takes the finalizer over from Update entries (and from the Apply managers
	// named, here the shared manager of an earlier release) when it removes it.
	cleanup, err := ssa.NewFinalizer(c, "demo", "example.com/cleanup", ssa.FinalizerOptions{
		TakeOverLegacy: true,
		LegacyManagers: []string{"demo/finalizer"},
		OnTakeOver: func(_ context.Context, obj client.Object, took ssa.TakeOver) {
			fmt.Printf("took %v on %s over from %d legacy entries\n", took.Finalizers, obj.GetName(), len(took.From))
		},
	})
	if err != nil {
		panic(err)
	}
	sent, err := cleanup.Remove(ctx, settings)
	fmt.Println(sent, err, settings.Finalizers)
	// Output:
	// took [example.com/cleanup] on settings over from 1 legacy entries
	// true <nil> []
}

func ExampleFinalizer_PlanMigration() {
	// The demo object: its finalizer is owned by the finalizer's manager and, still, by the
	// legacy controller's Update. PlanMigration reads the object and sends nothing.
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	cleanup, err := ssa.NewFinalizer(c, "demo", "example.com/cleanup", ssa.FinalizerOptions{TakeOverLegacy: true, FieldOwner: "demo/finalizer"})
	if err != nil {
		panic(err)
	}
	plan, err := cleanup.PlanMigration(demoConfigMap())
	if err != nil {
		panic(err)
	}
	fmt.Println(plan.Changes(), plan.Apply, plan.TakeFrom)
	// Output: true false [legacy-operator]
}

func ExampleFinalizer_Migrate() {
	ctx := context.Background()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	// A legacy controller added the finalizer under its old name with Update.
	settings := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "settings"}}
	if err := c.Create(ctx, settings, client.FieldOwner("user")); err != nil {
		panic(err)
	}
	settings.Finalizers = []string{"cleanup-finalizer"}
	if err := c.Update(ctx, settings, client.FieldOwner("legacy-operator")); err != nil {
		panic(err)
	}

	cleanup, err := ssa.NewFinalizer(c, "demo", "example.com/cleanup", ssa.FinalizerOptions{TakeOverLegacy: true, FormerNames: []string{"cleanup-finalizer"}})
	if err != nil {
		panic(err)
	}
	// Migrate needs the object's managedFields whole: read it from the API server.
	if err := c.Get(ctx, client.ObjectKeyFromObject(settings), settings); err != nil {
		panic(err)
	}
	done, err := cleanup.Migrate(ctx, settings)
	fmt.Println(err, done.Apply, done.Release, settings.Finalizers)
	// Output: <nil> true [cleanup-finalizer] [example.com/cleanup]
}

func ExampleFinalizerOptions_onTakeOver() {
	// Count and log migrated objects; pkg/reconcile's steps do this with a metric and an event.
	_, err := ssa.NewFinalizer(nil, "demo", "example.com/audit", ssa.FinalizerOptions{
		TakeOverLegacy: true,
		OnTakeOver: func(ctx context.Context, obj client.Object, took ssa.TakeOver) {
			ctrl.LoggerFrom(ctx).Info("Took finalizers over", "object", client.ObjectKeyFromObject(obj), "finalizers", took.Finalizers, "from", took.From)
		},
	})
	fmt.Println(err)
	// Output: <nil>
}

func ExampleFinalizerOptions_formerNames() {
	// Objects still carry the old, unqualified name; Add puts the new one on first, then removes
	// the old one. IsOn, IsOnLive and Remove treat the old name as the finalizer.
	renamed, err := ssa.NewFinalizer(nil, "flyte", "flyte.org/finalizer", ssa.FinalizerOptions{FormerNames: []string{"flyte-finalizer"}})
	if err != nil {
		panic(err)
	}
	// A custom resource: built-in types refuse names without a path.
	old := &unstructured.Unstructured{}
	old.SetAPIVersion("flyte.lyft.com/v1alpha1")
	old.SetKind("FlyteWorkflow")
	old.SetFinalizers([]string{"flyte-finalizer"})
	fmt.Println(renamed.Name(), renamed.IsOn(old))
	// Output: flyte.org/finalizer true
}

func ExampleUpgradeManagers() {
	var (
		ctx    context.Context
		c      client.Client
		copied *corev1.ConfigMap // read from the API server, managedFields whole
	)
	// The copier used to write its copies with Update as "copier-legacy"; from now on it applies
	// the same content as "copier". Never do this for a finalizer's manager: see
	// FinalizerOptions.TakeOverLegacy.
	if _, err := ssa.UpgradeManagers(ctx, c, copied, "copier", "copier-legacy"); errors.Is(err, ssa.ErrStale) {
		// Read the copy again and retry.
		return
	}
}

func ExampleTakeOverFields() {
	var (
		ctx context.Context
		c   client.Client
		svc *corev1.Service // as the server answered this manager's status apply
	)
	// After "lb-provisioner" applied the status an earlier release wrote as "lb-controller", the
	// fields both hold with the same value are shared; make them lb-provisioner's alone.
	if _, err := ssa.TakeOverFields(ctx, c, svc, "lb-provisioner", "status", "lb-controller"); errors.Is(err, ssa.ErrStale) {
		// Someone wrote the Service meanwhile: the next reconcile tries again.
		return
	}
}

func ExampleSetControllerReference() {
	ctx := context.Background()
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).Build()
	children := ssa.NewApplier(c, "web-controller", ssa.ApplierOptions{})
	// The owner as the controller read it, with its UID.
	owner := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "team-a", Name: "web", UID: "7c1e"}}
	// reconcile builds the child's configuration, reference included, on every reconcile: an apply
	// that left the reference out would remove it. live is the child from the controller's cache,
	// nil before it exists.
	reconcile := func(live *corev1.ConfigMap) (sent bool, err error) {
		config, err := ssa.SetControllerReference(owner, corev1ac.ConfigMap("web-settings", "team-a").
			WithData(map[string]string{"color": "blue"}), live, c.Scheme())
		if err != nil {
			return false, err
		}
		return children.Apply(ctx, live, config)
	}

	created, err := reconcile(nil)
	if err != nil {
		panic(err)
	}
	live := &corev1.ConfigMap{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: "team-a", Name: "web-settings"}, live); err != nil {
		panic(err)
	}
	again, err := reconcile(live) // the reference is live's already: nothing to send
	if err != nil {
		panic(err)
	}
	ref := live.OwnerReferences[0]
	fmt.Println(created, again, ref.APIVersion, ref.Kind, ref.Name, ref.UID, *ref.Controller, *ref.BlockOwnerDeletion)

	// Another controller's child: refused before any request, as controllerutil refuses it.
	live.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "Deployment", Name: "api", UID: "9f02", Controller: new(true)}}
	_, err = reconcile(live)
	var owned *controllerutil.AlreadyOwnedError
	fmt.Println(errors.As(err, &owned), owned.Owner.Name)
	fmt.Println(err)
	// Output:
	// true false apps/v1 Deployment web 7c1e true true
	// true api
	// ConfigMap team-a/web-settings is already controlled by Deployment api, not by Deployment web: an object has one controller; give Deployment web's child another name, or remove the other controller reference from it (or delete it) first
}

func ExampleApplier_ApplyChild() {
	ctx := context.Background()
	site := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "site", UID: "5173"}} // the owner
	theirs := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "demo", Name: "taken"}}
	c := ssatest.NewClientBuilder(clientgoscheme.Scheme).WithObjects(site, theirs).Build()
	pages := ssa.NewApplier(c, "site-controller", ssa.ApplierOptions{})
	page := func(name string) *corev1ac.ConfigMapApplyConfiguration {
		return corev1ac.ConfigMap(name, "demo").WithData(map[string]string{"index.html": "hello"})
	}

	created, err := pages.ApplyChild(ctx, site, page("site-page"))
	fmt.Println(created, err)
	again, err := pages.ApplyChild(ctx, site, page("site-page")) // as wanted: not sent
	fmt.Println(again, err)
	_, err = pages.ApplyChild(ctx, site, page("taken")) // not created for site: left alone
	fmt.Println(errors.Is(err, ssa.ErrNotControlled))
	// Output:
	// true <nil>
	// false <nil>
	// true
}
