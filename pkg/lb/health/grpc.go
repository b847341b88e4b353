package health

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// The gRPC health checking protocol (grpc/grpc doc/health-checking.md),
// spoken by hand: one unary call needs a 5-byte frame and two protobuf
// fields, not a gRPC library.
const (
	grpcHealthPath = "/grpc.health.v1.Health/Check"
	grpcServing    = 1 // HealthCheckResponse.ServingStatus SERVING
)

// grpcStatusNames are the ServingStatus values, for errors.
var grpcStatusNames = map[uint64]string{0: "UNKNOWN", 1: "SERVING", 2: "NOT_SERVING", 3: "SERVICE_UNKNOWN"}

// probeGRPC calls Health/Check for c.GRPCService; only an OK call whose
// answer is SERVING is healthy.
func probeGRPC(ctx context.Context, client *http.Client, addr string, c Config) error {
	url := baseURL(addr, c) + grpcHealthPath
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(healthCheckRequest(c.GRPCService)))
	if err != nil {
		return fmt.Errorf("gRPC health check %s: %w", url, err)
	}
	if c.Host != "" {
		req.Host = c.Host
	}
	req.Header.Set("Content-Type", "application/grpc")
	req.Header.Set("Te", "trailers") // required by gRPC; proxies in between keep trailers for it
	req.Header.Set("User-Agent", userAgent)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("gRPC health check: %w", err)
	}
	defer resp.Body.Close()
	if err := checkGRPCResponse(resp); err != nil {
		return fmt.Errorf("gRPC health check of service %q at %s: %w", c.GRPCService, addr, err)
	}
	return nil
}

// checkGRPCResponse reads the whole answer (the trailers come after the
// body) and judges it.
func checkGRPCResponse(resp *http.Response) error {
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP status %d, want 200", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDrain+1))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if len(body) > maxDrain {
		return fmt.Errorf("answer longer than %d bytes", maxDrain)
	}
	if err := grpcStatus(resp); err != nil {
		return err
	}
	status, err := servingStatus(body)
	if err != nil {
		return err
	}
	if status != grpcServing {
		return fmt.Errorf("status %s, want SERVING", servingStatusName(status))
	}
	return nil
}

// grpcStatus is the call's outcome: grpc-status in the trailers, or in the
// headers of a trailers-only answer (how servers send most errors, such as
// UNIMPLEMENTED from a server without the health service).
func grpcStatus(resp *http.Response) error {
	code, msg := resp.Trailer.Get("Grpc-Status"), resp.Trailer.Get("Grpc-Message")
	if code == "" {
		code, msg = resp.Header.Get("Grpc-Status"), resp.Header.Get("Grpc-Message")
	}
	switch code {
	case "0":
		return nil
	case "":
		return errors.New("answer without grpc-status")
	}
	if m, err := url.PathUnescape(msg); err == nil { // grpc-message is percent-encoded
		msg = m
	}
	return fmt.Errorf("grpc-status %s %q", code, msg)
}

// healthCheckRequest is a framed HealthCheckRequest{service}: field 1,
// wire type 2 (length-delimited), omitted when empty as proto3 does.
func healthCheckRequest(service string) []byte {
	var msg []byte
	if service != "" {
		msg = append(msg, 1<<3|2)
		msg = binary.AppendUvarint(msg, uint64(len(service)))
		msg = append(msg, service...)
	}
	frame := make([]byte, 5, 5+len(msg)) // flag 0: uncompressed, then the length
	binary.BigEndian.PutUint32(frame[1:], uint32(len(msg)))
	return append(frame, msg...)
}

// servingStatus decodes the one framed HealthCheckResponse in body and
// returns its field 1 (0, UNKNOWN, when absent).
func servingStatus(body []byte) (uint64, error) {
	if len(body) < 5 {
		return 0, errors.New("answer holds no gRPC message")
	}
	if body[0] != 0 {
		return 0, errors.New("answer is compressed, which was not offered")
	}
	n := binary.BigEndian.Uint32(body[1:5])
	if uint64(n) != uint64(len(body)-5) {
		return 0, fmt.Errorf("gRPC message of %d bytes in a body of %d", n, len(body)-5)
	}
	return decodeStatusField(body[5:])
}

// decodeStatusField walks the protobuf fields of msg, skipping the ones it
// does not know as protobuf requires, and returns the last field 1.
func decodeStatusField(msg []byte) (uint64, error) {
	var status uint64
	for len(msg) > 0 {
		key, n := binary.Uvarint(msg)
		if n <= 0 {
			return 0, errors.New("malformed HealthCheckResponse")
		}
		msg = msg[n:]
		value, rest, err := protoValue(key&7, msg)
		if err != nil {
			return 0, err
		}
		if key == 1<<3 { // field 1, varint
			status = value
		}
		msg = rest
	}
	return status, nil
}

// protoValue reads one value of wire type wt from msg; only varints are
// returned, other types are skipped.
func protoValue(wt uint64, msg []byte) (value uint64, rest []byte, err error) {
	malformed := errors.New("malformed HealthCheckResponse")
	switch wt {
	case 0: // varint
		v, n := binary.Uvarint(msg)
		if n <= 0 {
			return 0, nil, malformed
		}
		return v, msg[n:], nil
	case 1, 5: // fixed64, fixed32
		size := 8
		if wt == 5 {
			size = 4
		}
		if len(msg) < size {
			return 0, nil, malformed
		}
		return 0, msg[size:], nil
	case 2: // length-delimited
		l, n := binary.Uvarint(msg)
		if n <= 0 || l > uint64(len(msg)-n) {
			return 0, nil, malformed
		}
		return 0, msg[n+int(l):], nil
	}
	return 0, nil, fmt.Errorf("HealthCheckResponse has wire type %d", wt)
}

func servingStatusName(s uint64) string {
	if name, ok := grpcStatusNames[s]; ok {
		return name
	}
	return fmt.Sprint(s)
}
