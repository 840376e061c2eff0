// Package e2e holds kvsentry's end-to-end tests: the Alpine minirootfs run under
// `kvsentry run`, compared with the same programs run natively under chroot.
package e2e

import (
	"testing"

	"kvsentry/test/internal/harness"
)

// TestMain removes the shared temporary directory after the tests.
func TestMain(m *testing.M) { harness.Main(m) }
