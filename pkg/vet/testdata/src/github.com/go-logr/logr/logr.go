// Package logr is a stub of github.com/go-logr/logr for the analyzers' tests.
package logr

type Logger struct{}

func (l Logger) Info(msg string, keysAndValues ...any)             {}
func (l Logger) Error(err error, msg string, keysAndValues ...any) {}
