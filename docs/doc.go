// Package docs holds ssakit's documentation. It has no code: its test checks that every row of
// ssa-semantics.md that code, tests or documents cite exists, and that every test a row names
// exists, so the contract and the tests that pin it cannot drift apart.
package docs
