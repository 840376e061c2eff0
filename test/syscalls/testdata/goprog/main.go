// Command goprog is a statically linked Go program for the signals
// differential test: goroutines, channels, timers and tickers, the garbage
// collector and asynchronous preemption (SIGURG) of a goroutine spinning
// without function calls. It prints only deterministic results.
package main

import (
	"fmt"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// spin loops without calls until stop is set: only an asynchronous
// preemption signal can take the CPU from it.
func spin(stop *atomic.Bool, n *uint64) {
	var x uint64
	for !stop.Load() {
		x = x*6364136223846793005 + 1442695040888963407
	}
	*n = x
}

func main() {
	runtime.GOMAXPROCS(2)

	// Goroutines and channels.
	results := make(chan int, 100)
	var wg sync.WaitGroup
	for i := 0; i < 100; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			s := 0
			for j := 0; j <= i; j++ {
				s += j
			}
			results <- s
		}(i)
	}
	wg.Wait()
	close(results)
	var all []int
	for r := range results {
		all = append(all, r)
	}
	sort.Ints(all)
	fmt.Println("goroutines:", len(all), all[0], all[99])

	// Garbage: many short-lived allocations, forced collections.
	var keep [][]byte
	for i := 0; i < 20000; i++ {
		b := make([]byte, 1024+i%512)
		b[0] = byte(i)
		if i%1000 == 0 {
			keep = append(keep, b)
		}
	}
	runtime.GC()
	debug.FreeOSMemory()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	fmt.Println("gc: kept", len(keep), "collections>0", ms.NumGC > 0)

	// Asynchronous preemption: with GOMAXPROCS(2) and two spinning
	// goroutines, timers and a GC can only run if they are preempted.
	var stop atomic.Bool
	var n1, n2 uint64
	done := make(chan bool)
	for _, n := range []*uint64{&n1, &n2} {
		go func(n *uint64) { spin(&stop, n); done <- true }(n)
	}
	time.Sleep(20 * time.Millisecond)
	runtime.GC()
	fired := 0
	tk := time.NewTicker(5 * time.Millisecond)
	for range tk.C {
		fired++
		if fired == 5 {
			break
		}
	}
	tk.Stop()
	stop.Store(true)
	<-done
	<-done
	fmt.Println("preemption: ticker fired", fired, "while two goroutines spun")

	// Timers: AfterFunc and a deadline in a select.
	ch := make(chan string, 1)
	time.AfterFunc(10*time.Millisecond, func() { ch <- "afterfunc" })
	select {
	case s := <-ch:
		fmt.Println("timer:", s)
	case <-time.After(10 * time.Second):
		fmt.Println("timer: timeout")
	}

	// A signal handled through os/signal.
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGUSR1)
	syscall.Kill(os.Getpid(), syscall.SIGUSR1)
	fmt.Println("signal:", <-sigs)
	fmt.Println("done")
}
