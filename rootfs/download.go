package rootfs

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path"
	"time"

	"github.com/schollz/progressbar/v3"
)

// AlpineTarball is the file name of the Alpine minirootfs kvsentry is tested with.
const AlpineTarball = "alpine-minirootfs-3.20.3-x86_64.tar.gz"

// AlpineURL is where AlpineTarball is downloaded from when no --tarball is given.
const AlpineURL = "https://dl-cdn.alpinelinux.org/alpine/v3.20/releases/x86_64/" + AlpineTarball

// DownloadError reports a failed download; its message tells the user how to
// proceed offline.
type DownloadError struct {
	URL    string
	Reason error
}

// Error implements error: "cannot download URL: reason; pass --tarball FILE".
func (e *DownloadError) Error() string {
	return fmt.Sprintf("cannot download %s: %v; pass --tarball FILE", e.URL, e.Reason)
}

// Unwrap returns the underlying cause.
func (e *DownloadError) Unwrap() error { return e.Reason }

// httpClient has bounded connect and header timeouts (so an offline machine
// fails quickly) but no overall deadline, since a slow link is still a link.
var httpClient = &http.Client{
	Transport: &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 15 * time.Second}).DialContext,
		TLSHandshakeTimeout:   15 * time.Second,
		ResponseHeaderTimeout: 30 * time.Second,
	},
}

// Download fetches rawURL with HTTP GET and writes the body to dst, drawing a
// progress bar on progress (nil: no bar). It returns the number of bytes
// written. Every failure is a *DownloadError.
func Download(rawURL string, dst io.Writer, progress io.Writer) (int64, error) {
	fail := func(err error) (int64, error) {
		// A *url.Error repeats the method and URL; keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return 0, &DownloadError{URL: rawURL, Reason: err}
	}
	resp, err := httpClient.Get(rawURL)
	if err != nil {
		return fail(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("HTTP %s", resp.Status))
	}
	w := dst
	var bar *progressbar.ProgressBar
	if progress != nil {
		bar = progressbar.NewOptions64(resp.ContentLength,
			progressbar.OptionSetWriter(progress),
			progressbar.OptionSetDescription("downloading "+path.Base(resp.Request.URL.Path)),
			progressbar.OptionShowBytes(true),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100*time.Millisecond),
			progressbar.OptionOnCompletion(func() { fmt.Fprintln(progress) }),
		)
		w = io.MultiWriter(dst, bar)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return fail(err)
	}
	if resp.ContentLength >= 0 && n != resp.ContentLength {
		return fail(fmt.Errorf("short body: got %d of %d bytes", n, resp.ContentLength))
	}
	if bar != nil {
		_ = bar.Finish()
	}
	return n, nil
}
