// Package testfiles has findings only in its test file, which the analyzers' tests flags leave
// out.
package testfiles
