package main

// The platforms kvsentry can run guests on register themselves from their
// init functions (see package platform); importing them here makes them
// available to --platform.
import (
	_ "kvsentry/platform/kvm"
	_ "kvsentry/platform/ptrace"
)
