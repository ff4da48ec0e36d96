package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/patchlab/patchlab/model/analysis"
)

// Exit statuses.
const (
	exitOK          = 0   // done
	exitInternal    = 1   // something went wrong that the user cannot fix by changing the input
	exitInput       = 2   // bad input or usage: the message says what to change
	exitInterrupted = 130 // SIGINT or SIGTERM: stopped, no outputs written
)

// inputError is input the user must fix (exit status 2).
type inputError struct{ msg string }

func (e *inputError) Error() string { return e.msg }

func inputf(format string, args ...any) error {
	return &inputError{fmt.Sprintf(format, args...)}
}

// asInput marks err as caused by the user's input, keeping its message.
func asInput(err error) error {
	if err == nil {
		return nil
	}
	return &inputError{err.Error()}
}

// exitCode maps an error to the process's exit status.
func exitCode(err error) int {
	var in *inputError
	var an *analysis.InputError
	switch {
	case err == nil:
		return exitOK
	case errors.Is(err, context.Canceled):
		return exitInterrupted
	case errors.As(err, &in), errors.As(err, &an):
		return exitInput
	}
	return exitInternal
}

// report prints err as one line on w, prefixed with the command's name.
func report(w io.Writer, cmd string, err error) {
	msg := err.Error()
	if errors.Is(err, context.Canceled) {
		msg = "interrupted: stopped before finishing; no output files were written"
	}
	msg = strings.ReplaceAll(strings.TrimSpace(msg), "\n", "; ")
	fmt.Fprintf(w, "patchlab %s: %s\n", cmd, msg)
}
