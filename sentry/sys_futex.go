package sentry

import (
	"time"

	"golang.org/x/sys/unix"
)

func init() {
	register(unix.SYS_FUTEX, "pxdpxd", Partial, "WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, WAIT_BITSET, WAKE_BITSET, private and shared; PI futexes ENOSYS", sysFutex)
	register(unix.SYS_SET_ROBUST_LIST, "px", Full, "", func(t *Task, a *sysArgs) (uint64, error) {
		if a[1] != 24 {
			return 0, unix.EINVAL
		}
		t.robustList, t.robustLen = a[0], a[1]
		return 0, nil
	})
	register(unix.SYS_GET_ROBUST_LIST, "dpp", Full, "", sysGetRobustList)
}

// futex(2) operations and flags (include/uapi/linux/futex.h).
const (
	futexWaitOp          = 0
	futexWakeOp          = 1
	futexRequeueOp       = 3
	futexCmpRequeueOp    = 4
	futexWakeOpOp        = 5
	futexWaitBitset      = 9
	futexWakeBitset      = 10
	futexPrivateFlag     = 128
	futexClockRealtime   = 256
	futexBitsetMatchAny  = 0xffffffff
	futexMaxRequeueCount = 1 << 30
)

// sysFutex implements futex(2).
func sysFutex(t *Task, a *sysArgs) (uint64, error) {
	addr, op, val, timeoutAddr, addr2, val3 := a[0], int(a[1]), uint32(a[2]), a[3], a[4], uint32(a[5])
	private := op&futexPrivateFlag != 0
	realtime := op&futexClockRealtime != 0
	cmd := op &^ (futexPrivateFlag | futexClockRealtime)
	if realtime && cmd != futexWaitBitset && cmd != futexWaitOp {
		return 0, unix.ENOSYS
	}
	k := t.k
	switch cmd {
	case futexWaitOp, futexWaitBitset:
		bitset := uint32(futexBitsetMatchAny)
		if cmd == futexWaitBitset {
			bitset = val3
			if bitset == 0 {
				return 0, unix.EINVAL
			}
		}
		var deadline time.Time
		if timeoutAddr != 0 {
			ts, err := t.copyInTimespec(timeoutAddr)
			if err != nil {
				return 0, err
			}
			d := time.Duration(ts.Sec)*time.Second + time.Duration(ts.Nsec)
			if cmd == futexWaitOp {
				deadline = time.Now().Add(d)
			} else {
				clock := int32(unix.CLOCK_MONOTONIC)
				if realtime {
					clock = unix.CLOCK_REALTIME
				}
				now, _ := clockNow(clock)
				deadline = time.Now().Add(d - (time.Duration(now.Sec)*time.Second + time.Duration(now.Nsec)))
			}
		}
		return 0, k.futexWait(t, addr, private, val, deadline, bitset)
	case futexWakeOp, futexWakeBitset:
		bitset := uint32(futexBitsetMatchAny)
		if cmd == futexWakeBitset {
			bitset = val3
			if bitset == 0 {
				return 0, unix.EINVAL
			}
		}
		n, err := k.futexWake(t, addr, private, clampCount(val), bitset)
		return uint64(n), err
	case futexRequeueOp, futexCmpRequeueOp:
		nRequeue := int32(timeoutAddr)
		if int32(val) < 0 || nRequeue < 0 {
			return 0, unix.EINVAL
		}
		n, err := k.futexRequeue(t, addr, addr2, private, clampCount(val), int(nRequeue), cmd == futexCmpRequeueOp, val3)
		return uint64(n), err
	case futexWakeOpOp:
		n, err := k.futexWakeOp(t, addr, addr2, private, clampCount(val), clampCount(uint32(timeoutAddr)), val3)
		return uint64(n), err
	}
	return 0, unix.ENOSYS
}

// clampCount turns a futex count argument into a wake count (INT_MAX is
// "all"; negative values wake none, as Linux's int comparison does).
func clampCount(v uint32) int {
	if int32(v) < 0 {
		return 0
	}
	return int(v)
}

// sysGetRobustList implements get_robust_list(2).
func sysGetRobustList(t *Task, a *sysArgs) (uint64, error) {
	tid := int32(a[0])
	target := t
	if tid != 0 {
		t.k.mu.Lock()
		o, ok := t.k.tasks[tid]
		t.k.mu.Unlock()
		if !ok {
			return 0, unix.ESRCH
		}
		target = o
	}
	if err := t.copyOutUint64(a[1], target.robustList); err != nil {
		return 0, err
	}
	return 0, t.copyOutUint64(a[2], 24)
}
