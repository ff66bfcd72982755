package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
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
	dryRun         dryRun
	unqualified    bool
	showUnchanged  bool
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
		Use:   "migrate (TYPE [NAME...] | TYPE/NAME...) --controller NAME --finalizer NEW [--former-name OLD...] [--legacy-manager M...] [--dry-run=none|client|server]",
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
object the controller did not. Objects left alone are counted in one line, not listed (but with
--show-unchanged).

--dry-run=client (or a bare --dry-run) writes nothing and says what each object would get
(ssa.Finalizer.PlanMigration), without asking the server. --dry-run=server sends every write
with dryRun=All, so the server checks them as real ones (RBAC, admission webhooks and
policies, the schema) and persists nothing. Run it with the controller scaled down, or after
the release that declares the same options has rolled out.`,
		Example: `  kubectl ssakit migrate widgets.example.com -A --controller widgets --finalizer example.com/cleanup --dry-run
  kubectl ssakit migrate widgets.example.com -A --controller widgets --finalizer example.com/cleanup --former-name widget-finalizer`,
		Args: withUsage(someObjects),
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
	cmd.Flags().Var(&o.dryRun, "dry-run", `Must be "none", "server", or "client". With client, only print what each object would get; with server, send every write with dryRun=All, checked by the server (RBAC, admission) and not persisted. A bare --dry-run is client.`)
	cmd.Flags().Lookup("dry-run").NoOptDefVal = string(dryRunClient)
	cmd.Flags().BoolVar(&o.unqualified, "allow-unqualified-name", false, "Accept a --finalizer name without a domain (widget-finalizer), for a finalizer already on custom resources under that name (ssa.FinalizerOptions.AllowUnqualifiedName).")
	cmd.Flags().BoolVar(&o.showUnchanged, "show-unchanged", false, "Print a line for each object left alone, and why, not only their count.")
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
	if o.dryRun == dryRunServer {
		c = client.NewDryRunClient(c)
	}
	f, err := o.newFinalizer(c)
	if err != nil {
		return err
	}
	objects, readErr := o.selected.objects(flags, args)
	if objects == nil && readErr != nil {
		return readErr
	}
	prefix := o.dryRun.prefix()
	fmt.Fprintf(streams.ErrOut, "%smigrating finalizer %q to field manager %q on %d object(s)\n", prefix, f.Name(), f.FieldOwner(), len(objects))
	if failed := o.report(ctx, c, f, objects, streams, prefix); len(failed) > 0 {
		return errors.Join(failure(failed, o.dryRun, f.FieldOwner()), readErr)
	}
	return readErr
}

// newFinalizer declares the finalizer the flags name, with the options of its migration: its item
// is taken over from its legacy owners, and its former names are replaced.
func (o *migrateOptions) newFinalizer(c client.Client) (*ssa.Finalizer, error) {
	opts := ssa.FinalizerOptions{
		FieldOwner:           client.FieldOwner(o.fieldOwner),
		AllowUnqualifiedName: o.unqualified,
		TakeOverLegacy:       true,
		LegacyManagers:       o.legacyManagers,
		FormerNames:          o.formerNames,
	}
	controller := o.controller
	if controller == "" {
		controller = "kubectl-ssakit" // only names the manager, which --field-owner sets
	}
	return ssa.NewFinalizer(c, controller, o.finalizer, opts)
}

// report migrates objects and prints a line for each it changes or fails on, in the listed order,
// one line counting those it leaves alone and why, a progress line on stderr every
// o.progressEvery and a last one at the end. It returns the errors of those that failed.
func (o *migrateOptions) report(ctx context.Context, c client.Client, f *ssa.Finalizer, objects []*unstructured.Unstructured, streams genericiooptions.IOStreams, prefix string) []error {
	t := tally{showUnchanged: o.showUnchanged}
	lastProgress := time.Now()
	for i, done := range o.migrateAll(ctx, c, f, objects) {
		// Receive first: the object is read again while it migrates, and is named after.
		result := <-done
		t.print(streams.Out, prefix, objectOf(objects[i]), f.Name(), result)
		if time.Since(lastProgress) >= o.progressEvery && i+1 < len(objects) {
			lastProgress = time.Now()
			progress(streams.ErrOut, prefix, i+1, len(objects), t.changed, t.unchanged, len(t.failed))
		}
	}
	t.printUnchanged(streams.Out, prefix)
	progress(streams.ErrOut, prefix, len(objects), len(objects), t.changed, t.unchanged, len(t.failed))
	return t.failed
}

// tally counts the objects migrate has seen, by outcome, and why those left alone were.
type tally struct {
	changed, unchanged int
	failed             []error
	showUnchanged      bool
	// why counts the objects left alone by reason, in the order the reasons first came.
	why     map[string]int
	reasons []string
}

// print prints what became of the object name, and what stays as it is and why, and counts it;
// an object left alone is only counted, unless showUnchanged.
func (t *tally) print(out io.Writer, prefix string, name objectJSON, finalizer string, result migrated) {
	m, err := result.m, result.err
	switch {
	case result.gone:
		t.leftAlone("deleted since it was listed")
		if t.showUnchanged {
			fmt.Fprintf(out, "%s%s: unchanged: deleted since it was listed\n", prefix, name)
		}
		return
	case err != nil:
		t.failed = append(t.failed, err)
		fmt.Fprintf(out, "%s%s: failed: %v\n", prefix, name, err)
	case m.Changes():
		t.changed++
		fmt.Fprintf(out, "%s%s: %s\n", prefix, name, describe(m, finalizer))
	default:
		t.leftAlone(m.Kept...)
		if !t.showUnchanged {
			return
		}
		fmt.Fprintf(out, "%s%s: unchanged\n", prefix, name)
	}
	for _, kept := range m.Kept {
		fmt.Fprintf(out, "%s%s:   kept: %s\n", prefix, name, kept)
	}
}

// leftAlone counts an object left alone, under its first reason.
func (t *tally) leftAlone(reasons ...string) {
	t.unchanged++
	// Without a reason to keep anything, the finalizer is already its manager's alone.
	reason := "already migrated"
	if len(reasons) > 0 {
		reason = reasons[0]
	}
	if t.why == nil {
		t.why = map[string]int{}
	}
	if t.why[reason] == 0 {
		t.reasons = append(t.reasons, reason)
	}
	t.why[reason]++
}

// printUnchanged prints one line for every object left alone: how many, and why.
func (t *tally) printUnchanged(out io.Writer, prefix string) {
	if t.unchanged == 0 || t.showUnchanged {
		return
	}
	why := make([]string, len(t.reasons))
	for i, reason := range t.reasons {
		why[i] = fmt.Sprintf("%d: %s", t.why[reason], reason)
	}
	fmt.Fprintf(out, "%s%d object(s) unchanged (--show-unchanged lists them): %s\n", prefix, t.unchanged, strings.Join(why, "; "))
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
	if o.dryRun == dryRunClient {
		m, err := f.PlanMigration(obj)
		return migrated{m: m, err: err}
	}
	// The list may be minutes old by now: migrate what the server has. Migrate guards its
	// writes anyway (UID, and resourceVersion when it puts the finalizer on).
	gone, err := refresh(ctx, c, obj)
	if err != nil || gone {
		return migrated{gone: gone, err: err}
	}
	if o.dryRun == dryRunServer {
		return serverDryRun(ctx, f, obj)
	}
	m, err := f.Migrate(ctx, obj)
	return migrated{m: m, err: err}
}

// serverDryRun runs the migration through a client that sends every write with dryRun=All, so
// the server checks each as a real one (RBAC, admission, the schema), and says what the real run
// would do: the plan. A dry-run write is not persisted, so a later step that reads its outcome
// (a release after the takeover of the former name) finds the name still co-owned: that
// *ssa.CoOwnedError is the dry run's, not the object's.
func serverDryRun(ctx context.Context, f *ssa.Finalizer, obj *unstructured.Unstructured) migrated {
	plan, err := f.PlanMigration(obj.DeepCopy())
	if err != nil {
		return migrated{err: err}
	}
	if _, err := f.Migrate(ctx, obj); err != nil {
		if _, coOwned := errors.AsType[*ssa.CoOwnedError](err); !coOwned {
			return migrated{err: err}
		}
	}
	return migrated{m: plan}
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

// failure is migrate's error when some objects failed: what the server refused and what is
// missing, from their errors, and whether running again can help. manager is the finalizer's field
// manager, which an admission rule has to let write.
func failure(failed []error, mode dryRun, manager string) error {
	var forbidden, invalid, refused, rules []string
	refusedCode := int32(0)
	other := 0
	for _, err := range failed {
		var status apierrors.APIStatus
		if !errors.As(err, &status) {
			other++
			continue
		}
		message := status.Status().Message
		switch denial, rule := admissionDenial(message); {
		case denial != "":
			// Admission is told apart by its message: a policy's refusal is a 422 unless the
			// policy gives another reason (403 with Forbidden), and a webhook answers any code.
			refused, rules, refusedCode = appendNew(refused, denial), appendNew(rules, rule), status.Status().Code
		case apierrors.IsForbidden(err):
			forbidden = appendNew(forbidden, message)
		case apierrors.IsInvalid(err):
			invalid = appendNew(invalid, message)
		default:
			other++
		}
	}
	var why []string
	if len(refused) > 0 {
		why = append(why, fmt.Sprintf("admission refuses migrate's writes (%d): %s. migrate applies metadata.finalizers as field manager %q and patches "+
			"metadata.managedFields; read the rule with %s, and have its owner let these writes through (or run migrate --as a user it lets through): "+
			"running again fails the same way until then", refusedCode, strings.Join(refused, "; "), manager, strings.Join(rules, ", ")))
	}
	if len(forbidden) > 0 {
		why = append(why, fmt.Sprintf("the server forbids what migrate needs (403): %s. migrate needs get and patch on the objects (it applies the finalizer and patches managedFields); check with kubectl auth can-i patch TYPE -n NAMESPACE, and ask for the permission: running again fails the same way until it is granted", strings.Join(forbidden, "; ")))
	}
	if len(invalid) > 0 {
		why = append(why, fmt.Sprintf("the server refuses the writes as invalid (422): %s. A validating admission policy or webhook, or the resource's schema, rejects the change: running again fails the same way until the rule allows it", strings.Join(invalid, "; ")))
	}
	if other > 0 {
		verb := "are migrated"
		if mode != dryRunNone {
			verb = "would be migrated"
		}
		why = append(why, fmt.Sprintf("%d for other reasons, which their lines give: objects that succeeded %s; run the command again for the others", other, verb))
	}
	return fmt.Errorf("%d object(s) failed: %s", len(failed), strings.Join(why, "; "))
}

// The API server's words for a write that admission refused (k8s.io/apiserver
// pkg/admission/plugin/policy/validating/dispatcher.go and pkg/admission/plugin/webhook/errors).
var (
	policyDenial  = regexp.MustCompile(`ValidatingAdmissionPolicy '([^']+)'(?: with binding '([^']+)')? denied request`)
	webhookDenial = regexp.MustCompile(`admission webhook "([^"]+)" denied the request`)
)

// admissionDenial returns, when message is an admission policy's or webhook's refusal, the
// refusal without the object's name (the same for every object it refuses) and the kubectl
// commands that show the rule; "" otherwise.
func admissionDenial(message string) (denial, rule string) {
	if m := policyDenial.FindStringSubmatchIndex(message); m != nil {
		policy := message[m[2]:m[3]]
		rule = "kubectl get validatingadmissionpolicy " + policy + " -o yaml"
		if m[4] >= 0 {
			rule += " and kubectl get validatingadmissionpolicybinding " + message[m[4]:m[5]] + " -o yaml"
		}
		return message[m[0]:], rule
	}
	if m := webhookDenial.FindStringSubmatchIndex(message); m != nil {
		webhook := message[m[2]:m[3]]
		return message[m[0]:], "kubectl get validatingwebhookconfigurations -o custom-columns=CONFIGURATION:.metadata.name,WEBHOOKS:.webhooks[*].name " +
			"(the configuration that lists " + webhook + ")"
	}
	return "", ""
}

// appendNew appends s to list unless list has it.
func appendNew(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// refresh reads obj again from the server, into obj; gone is true when it no longer exists.
func refresh(ctx context.Context, c client.Client, obj *unstructured.Unstructured) (gone bool, err error) {
	err = c.Get(ctx, client.ObjectKeyFromObject(obj), obj)
	if apierrors.IsNotFound(err) {
		return true, nil
	}
	return false, err
}

// dryRun is the --dry-run flag, as kubectl has it: none, client or server.
type dryRun string

const (
	dryRunNone   dryRun = "none"
	dryRunClient dryRun = "client"
	dryRunServer dryRun = "server"
)

func (d *dryRun) String() string {
	if *d == "" {
		return string(dryRunNone)
	}
	return string(*d)
}

func (d *dryRun) Type() string { return "string" }

// Set takes kubectl's values, and its deprecated booleans: true is client, false none.
func (d *dryRun) Set(s string) error {
	switch s {
	case "none", "client", "server":
		*d = dryRun(s)
	case "true":
		*d = dryRunClient
	case "false":
		*d = dryRunNone
	default:
		return fmt.Errorf(`invalid dry-run value (%s). Must be "none", "server", or "client"`, s)
	}
	return nil
}

// prefix starts each line of a dry run.
func (d dryRun) prefix() string {
	switch d {
	case dryRunClient:
		return "(dry run) "
	case dryRunServer:
		return "(server dry run) "
	}
	return ""
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
