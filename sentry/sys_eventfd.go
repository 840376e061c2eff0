package sentry

import (
	"golang.org/x/sys/unix"

	"kvsentry/vfs"
)

func init() {
	register(unix.SYS_EVENTFD, "d", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return t.eventfd(uint32(a[0]), 0)
	})
	register(unix.SYS_EVENTFD2, "dx", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		return t.eventfd(uint32(a[0]), int32(a[1]))
	})
}

// eventfd flags (include/uapi/linux/eventfd.h).
const (
	efdSemaphore = 1
	efdCloexec   = unix.O_CLOEXEC
	efdNonblock  = unix.O_NONBLOCK
)

// eventfd implements eventfd2(2) (do_eventfd): EINVAL for unknown flags.
func (t *Task) eventfd(initval uint32, flags int32) (uint64, error) {
	if flags&^(efdSemaphore|efdCloexec|efdNonblock) != 0 {
		return 0, unix.EINVAL
	}
	f := vfs.NewEventFD(uint64(initval), flags&efdSemaphore != 0, flags&efdNonblock != 0)
	return t.newFD(f, flags&efdCloexec != 0)
}
