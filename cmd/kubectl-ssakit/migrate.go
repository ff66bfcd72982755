package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/ssakit/ssakit/pkg/ssa"
)

// migrateOptions are migrate's flags.
type migrateOptions struct {
	selected       selection
	controller     string
	finalizer      string
	fieldOwner     string
	formerNames    []string
	legacyManagers []string
	dryRun         bool
	progressEvery  time.Duration
	concurrency    int
}

// migrated is what became of one object.
type migrated struct {
	m    ssa.Migration
	gone bool
	err  error
}

func newMigrateCommand(flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams) *cobra.Command {
	o := &migrateOptions{}
	cmd := &cobra.Command{
		Use:   "migrate TYPE [NAME...] --controller NAME --finalizer NEW [--former-name OLD...] [--legacy-manager M...] [--dry-run]",
		Short: "Move finalizers to the field manager of an ssakit finalizer, renaming them if asked",
		Long: `Move the finalizer NEW on each selected object to the field manager the controller's
ssa.Finalizer uses (<controller>/finalizer/<NEW>, or --field-owner), with ssakit's own
migration (ssa.Finalizer.Migrate, with FinalizerOptions.TakeOverLegacy and FormerNames):

  - the finalizer's item is taken over from every Update owner (controllerutil.AddFinalizer
    with Update or a merge patch, kubectl edit) and from the Apply managers named with
    --legacy-manager; every other field those managers own stays theirs;
  - with --former-name, an object that carries a former name gets NEW first, then the former
    name is released, so it is never without one of them. A terminating object keeps its former
    name: the server refuses new finalizers on it, and the controller's Remove releases it.

An object that carries neither NEW nor a former name is left alone: migrate never protects an
object the controller did not. With --dry-run nothing is written, and each object's line says
what would change (ssa.Finalizer.PlanMigration). Run it with the controller scaled down, or
after the release that declares the same options has rolled out.`,
		Example: `  kubectl ssakit migrate widgets.example.com -A --controller widgets --finalizer example.com/cleanup --dry-run
  kubectl ssakit migrate widgets.example.com -A --controller widgets --finalizer example.com/cleanup --former-name widget-finalizer`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return o.run(cmd.Context(), flags, streams, args)
		},
	}
	o.selected.addFlags(cmd)
	cmd.Flags().StringVar(&o.controller, "controller", "", "The controller name the finalizer is declared with (ssa.NewFinalizer's controller argument).")
	cmd.Flags().StringVar(&o.finalizer, "finalizer", "", "The finalizer's name, domain-qualified (example.com/cleanup).")
	cmd.Flags().StringVar(&o.fieldOwner, "field-owner", "", "The finalizer's field manager, when the controller sets one with ssa.FinalizerOptions.FieldOwner.")
	cmd.Flags().StringSliceVar(&o.formerNames, "former-name", nil, "A former name of the finalizer to replace with --finalizer (ssa.FinalizerOptions.FormerNames); repeatable.")
	cmd.Flags().StringSliceVar(&o.legacyManagers, "legacy-manager", nil, "An Apply field manager to take the finalizer from, besides every Update owner (ssa.FinalizerOptions.LegacyManagers); repeatable.")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "Change nothing; print what each object would get.")
	cmd.Flags().DurationVar(&o.progressEvery, "progress-every", 2*time.Second, "How often a progress line goes to stderr on long runs.")
	cmd.Flags().IntVar(&o.concurrency, "concurrency", 8, "How many objects are migrated at once; the output keeps the listed order.")
	return cmd
}

func (o *migrateOptions) run(ctx context.Context, flags *genericclioptions.ConfigFlags, streams genericiooptions.IOStreams, args []string) error {
	if err := o.validate(); err != nil {
		return err
	}
	config, err := flags.ToRESTConfig()
	if err != nil {
		return err
	}
	c, err := client.New(config, client.Options{})
	if err != nil {
		return err
	}
	f, err := o.newFinalizer(c)
	if err != nil {
		return err
	}
	objects, readErr := o.selected.objects(flags, args)
	if objects == nil && readErr != nil {
		return readErr
	}
	prefix := ""
	if o.dryRun {
		prefix = "(dry run) "
	}
	fmt.Fprintf(streams.ErrOut, "%smigrating finalizer %q to field manager %q on %d object(s)\n", prefix, f.Name(), f.FieldOwner(), len(objects))
	if failed := o.report(ctx, c, f, objects, streams, prefix); failed > 0 {
		return errors.Join(fmt.Errorf("%d object(s) failed; their lines say why. Objects that succeeded are migrated; run the command again for the others", failed), readErr)
	}
	return readErr
}

// newFinalizer declares the finalizer the flags name, with the options of its migration: its item
// is taken over from its legacy owners, and its former names are replaced.
func (o *migrateOptions) newFinalizer(c client.Client) (*ssa.Finalizer, error) {
	opts := ssa.FinalizerOptions{
		FieldOwner:     client.FieldOwner(o.fieldOwner),
		TakeOverLegacy: true,
		LegacyManagers: o.legacyManagers,
		FormerNames:    o.formerNames,
	}
	controller := o.controller
	if controller == "" {
		controller = "kubectl-ssakit" // only names the manager, which --field-owner sets
	}
	return ssa.NewFinalizer(c, controller, o.finalizer, opts)
}

// report migrates objects and prints a line for each, in the listed order, with a progress
// line on stderr every o.progressEvery and a last one at the end. It returns how many failed.
func (o *migrateOptions) report(ctx context.Context, c client.Client, f *ssa.Finalizer, objects []*unstructured.Unstructured, streams genericiooptions.IOStreams, prefix string) int {
	var t tally
	lastProgress := time.Now()
	for i, done := range o.migrateAll(ctx, c, f, objects) {
		// Receive first: the object is read again while it migrates, and is named after.
		result := <-done
		t.print(streams.Out, prefix, objectOf(objects[i]), f.Name(), result)
		if time.Since(lastProgress) >= o.progressEvery && i+1 < len(objects) {
			lastProgress = time.Now()
			progress(streams.ErrOut, prefix, i+1, len(objects), t.changed, t.unchanged, t.failed)
		}
	}
	progress(streams.ErrOut, prefix, len(objects), len(objects), t.changed, t.unchanged, t.failed)
	return t.failed
}

// tally counts the objects migrate has printed, by outcome.
type tally struct {
	changed, unchanged, failed int
}

// print prints what became of the object name, and what stays as it is and why, and counts it.
func (t *tally) print(out io.Writer, prefix string, name objectJSON, finalizer string, result migrated) {
	m, err := result.m, result.err
	switch {
	case result.gone:
		t.unchanged++
		fmt.Fprintf(out, "%s%s: unchanged: deleted since it was listed\n", prefix, name)
	case err != nil:
		t.failed++
		fmt.Fprintf(out, "%s%s: failed: %v\n", prefix, name, err)
	case m.Changes():
		t.changed++
		fmt.Fprintf(out, "%s%s: %s\n", prefix, name, describe(m, finalizer))
	default:
		t.unchanged++
		fmt.Fprintf(out, "%s%s: unchanged\n", prefix, name)
	}
	for _, kept := range m.Kept {
		fmt.Fprintf(out, "%s%s:   kept: %s\n", prefix, name, kept)
	}
}

// migrateAll migrates (or plans, with --dry-run) objects, o.concurrency at a time, and returns one
// channel per object, in the order given, that delivers its result: the caller prints them in the
// listed order while later objects are still on their way.
func (o *migrateOptions) migrateAll(ctx context.Context, c client.Client, f *ssa.Finalizer, objects []*unstructured.Unstructured) []chan migrated {
	results := make([]chan migrated, len(objects))
	for i := range results {
		results[i] = make(chan migrated, 1)
	}
	next := make(chan int)
	go func() {
		defer close(next)
		for i := range objects {
			next <- i
		}
	}()
	for range min(o.concurrency, len(objects)) {
		go func() {
			for i := range next {
				results[i] <- o.migrateOne(ctx, c, f, objects[i])
			}
		}()
	}
	return results
}

// migrateOne migrates obj, read again first, or plans its migration with --dry-run.
func (o *migrateOptions) migrateOne(ctx context.Context, c client.Client, f *ssa.Finalizer, obj *unstructured.Unstructured) migrated {
	if o.dryRun {
		m, err := f.PlanMigration(obj)
		return migrated{m: m, err: err}
	}
	// The list may be minutes old by now: migrate what the server has. Migrate guards its
	// writes anyway (UID, and resourceVersion when it puts the finalizer on).
	gone, err := refresh(ctx, c, obj)
	if err != nil || gone {
		return migrated{gone: gone, err: err}
	}
	m, err := f.Migrate(ctx, obj)
	return migrated{m: m, err: err}
}

// validate checks the flags before anything is read, in the flags' own terms.
func (o *migrateOptions) validate() error {
	switch {
	case o.controller == "" && o.fieldOwner == "":
		return fmt.Errorf("say whose finalizer it is: --controller NAME, the controller name the finalizer is declared with (its field manager is <controller>/finalizer/<finalizer>), or --field-owner")
	case o.controller != "" && o.fieldOwner != "":
		return fmt.Errorf("give --controller or --field-owner, not both: --field-owner is the whole field manager, for a finalizer declared with ssa.FinalizerOptions.FieldOwner")
	case o.finalizer == "":
		return fmt.Errorf("say which finalizer to migrate: --finalizer NAME, its domain-qualified name")
	case slices.Contains(o.formerNames, o.finalizer):
		return fmt.Errorf("--former-name %q is the --finalizer itself: name the former names objects may still carry", o.finalizer)
	case o.progressEvery < 0:
		return fmt.Errorf("--progress-every %s is negative: give how often a progress line is printed, e.g. 5s", o.progressEvery)
	case o.concurrency < 1:
		return fmt.Errorf("--concurrency %d: give how many objects to migrate at once, at least 1", o.concurrency)
	}
	for _, m := range append([]string{o.fieldOwner}, o.legacyManagers...) {
		if m == "" {
			continue
		}
		if errs := metav1validation.ValidateFieldManager(m, field.NewPath("fieldManager")); len(errs) > 0 {
			return fmt.Errorf("%q is not a field manager name: %w", m, errs.ToAggregate())
		}
	}
	if slices.Contains(o.legacyManagers, "") {
		return fmt.Errorf("--legacy-manager is empty: name an Apply field manager to take the finalizer from")
	}
	own := o.fieldOwner
	if own == "" {
		own = ssa.FinalizerFieldOwner(o.controller, o.finalizer)
	}
	if slices.Contains(o.legacyManagers, own) {
		return fmt.Errorf("--legacy-manager %q is the finalizer's own field manager: name the managers to take the finalizer from", own)
	}
	return nil
}

// refresh reads obj again from the server, into obj; gone is true when it no longer exists.
func refresh(ctx context.Context, c client.Client, obj *unstructured.Unstructured) (gone bool, err error) {
	err = c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	return false, err
}

func progress(w io.Writer, prefix string, done, total, changed, unchanged, failed int) {
	verb := "changed"
	if prefix != "" {
		verb = "would change"
	}
	fmt.Fprintf(w, "%s%d/%d objects: %d %s, %d unchanged, %d failed\n", prefix, done, total, changed, verb, unchanged, failed)
}

// describe says what a migration changes, in the order it happens.
func describe(m ssa.Migration, finalizer string) string {
	var steps []string
	switch {
	case m.PutOn:
		steps = append(steps, fmt.Sprintf("put %q on", finalizer))
	case m.Apply:
		steps = append(steps, fmt.Sprintf("apply %q", finalizer))
	}
	if len(m.TakeFrom) > 0 {
		steps = append(steps, fmt.Sprintf("take %q over from %s", finalizer, quoted(m.TakeFrom)))
	}
	if len(m.Release) > 0 {
		steps = append(steps, fmt.Sprintf("release %s", quoted(m.Release)))
	}
	return strings.Join(steps, ", ")
}

func quoted(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}
