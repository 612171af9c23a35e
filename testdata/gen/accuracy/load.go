package main

import (
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// loadMain sends a bounded number of requests through the gateway from
// `-c` concurrent clients, each on its own keep-alive connection. Each
// request picks, at random (seeded), whether A calls B, whether the
// request id is propagated to B and to the database, and whether A makes a
// fire-and-forget call after answering.
func loadMain(args []string) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	target := fs.String("target", "http://127.0.0.1:80", "gateway base URL")
	conc := fs.Int("c", 1, "concurrent clients")
	total := fs.Int("n", 100, "requests in all")
	seed := fs.Uint64("seed", 1, "random seed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var next, failed atomic.Int64
	var wg sync.WaitGroup
	for i := range *conc {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(*seed, uint64(i)))
			c := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxConnsPerHost: 1, MaxIdleConnsPerHost: 1, DisableCompression: true}}
			defer c.CloseIdleConnections()
			for next.Add(1) <= int64(*total) {
				b := rng.IntN(3) > 0
				ff := rng.IntN(4) == 0
				u := fmt.Sprintf("%s/api/a/work?b=%d&bkey=%d&dbkey=%d&ff=%d&ffhttp=%d", *target,
					bit(b), bit(rng.IntN(2) == 0), bit(rng.IntN(2) == 0), bit(ff), bit(rng.IntN(2) == 0))
				resp, err := c.Get(u)
				if err != nil {
					failed.Add(1)
					continue
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					failed.Add(1)
				}
				// Think time, so fire-and-forget calls overlap later requests.
				time.Sleep(time.Duration(rng.IntN(3)) * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	fmt.Printf("load: %d requests, %d clients, %d failed\n", *total, *conc, failed.Load())
	if failed.Load() > 0 {
		return fmt.Errorf("%d requests failed", failed.Load())
	}
	return nil
}

func bit(b bool) int {
	if b {
		return 1
	}
	return 0
}
