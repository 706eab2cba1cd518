package app

import (
	"net"
	"net/http"
	"time"
)

// MaxConnsPerService is how many idle connections a service keeps to each service it
// calls: as many as the requests it may have in flight to it under load.
// net/http's default, 2, makes every request beyond the second open a TCP connection
// and throw it away afterwards.
const MaxConnsPerService = 128

// NewTransport returns the HTTP transport a service calls another with: net/http's
// defaults, but keeping enough idle connections per host to carry a loaded service's
// calls on connections it already has.
func NewTransport() *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   5 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          4 * MaxConnsPerService,
		MaxIdleConnsPerHost:   MaxConnsPerService,
		IdleConnTimeout:       90 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
}
