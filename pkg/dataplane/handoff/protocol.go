package handoff

import (
	"encoding/binary"
	"fmt"
)

const (
	protocolVersion byte = 1
	headerLen            = 6 // version, type, uint32 payload length
	maxPayload           = 16 << 10
	maxFrame             = headerLen + maxPayload
	// maxListeners stays far below the kernel's SCM_MAX_FD (253).
	maxListeners = 64
	maxNameLen   = 255
)

type msgType byte

const (
	msgListeners msgType = 1 // offerer → successor, carries the descriptors
	msgBusy      msgType = 2 // offerer → successor: someone else is taking them
	msgRefused   msgType = 3 // offerer → successor: payload says why
	msgConfirm   msgType = 4 // successor → offerer: accepting on them now
	msgAck       msgType = 5 // offerer → successor: confirmation received
)

func (t msgType) String() string {
	switch t {
	case msgListeners:
		return "listeners"
	case msgBusy:
		return "busy"
	case msgRefused:
		return "refused"
	case msgConfirm:
		return "confirm"
	case msgAck:
		return "ack"
	}
	return fmt.Sprintf("unknown(%d)", byte(t))
}

type frame struct {
	typ     msgType
	payload []byte
}

func encodeFrame(typ msgType, payload []byte) ([]byte, error) {
	if len(payload) > maxPayload {
		return nil, fmt.Errorf("%w: %s payload of %d bytes exceeds %d", ErrProtocol, typ, len(payload), maxPayload)
	}
	b := make([]byte, headerLen+len(payload))
	b[0] = protocolVersion
	b[1] = byte(typ)
	binary.BigEndian.PutUint32(b[2:headerLen], uint32(len(payload)))
	copy(b[headerLen:], payload)
	return b, nil
}

// decodeFrame parses exactly one record; b must hold the whole record.
func decodeFrame(b []byte) (frame, error) {
	if len(b) < headerLen {
		return frame{}, fmt.Errorf("%w: message of %d bytes is shorter than the %d-byte header", ErrProtocol, len(b), headerLen)
	}
	if b[0] != protocolVersion {
		return frame{}, fmt.Errorf("%w: version %d, this process speaks %d", ErrProtocol, b[0], protocolVersion)
	}
	typ := msgType(b[1])
	if typ < msgListeners || typ > msgAck {
		return frame{}, fmt.Errorf("%w: unknown message type %d", ErrProtocol, b[1])
	}
	n := binary.BigEndian.Uint32(b[2:headerLen])
	if uint64(n) != uint64(len(b)-headerLen) {
		return frame{}, fmt.Errorf("%w: %s header says %d payload bytes, got %d", ErrProtocol, typ, n, len(b)-headerLen)
	}
	return frame{typ: typ, payload: b[headerLen:]}, nil
}

// encodeNames lays out the listeners payload: count, then len+name each.
func encodeNames(names []string) ([]byte, error) {
	if len(names) == 0 || len(names) > maxListeners {
		return nil, fmt.Errorf("handoff: %d listeners, want 1 to %d", len(names), maxListeners)
	}
	b := []byte{byte(len(names))}
	for _, name := range names {
		if err := validName(name); err != nil {
			return nil, err
		}
		b = append(b, byte(len(name)))
		b = append(b, name...)
	}
	return b, nil
}

func decodeNames(p []byte) ([]string, error) {
	if len(p) == 0 {
		return nil, fmt.Errorf("%w: empty listeners message", ErrProtocol)
	}
	count := int(p[0])
	if count == 0 || count > maxListeners {
		return nil, fmt.Errorf("%w: %d listeners, want 1 to %d", ErrProtocol, count, maxListeners)
	}
	names := make([]string, 0, count)
	seen := make(map[string]bool, count)
	rest := p[1:]
	for i := 0; i < count; i++ {
		if len(rest) == 0 || int(rest[0])+1 > len(rest) {
			return nil, fmt.Errorf("%w: listener name %d runs past the end of the message", ErrProtocol, i)
		}
		name := string(rest[1 : 1+int(rest[0])])
		if err := validName(name); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrProtocol, err)
		}
		if seen[name] {
			return nil, fmt.Errorf("%w: listener name %q sent twice", ErrProtocol, name)
		}
		seen[name] = true
		names = append(names, name)
		rest = rest[1+int(rest[0]):]
	}
	if len(rest) != 0 {
		return nil, fmt.Errorf("%w: %d stray bytes after the listener names", ErrProtocol, len(rest))
	}
	return names, nil
}

func validName(name string) error {
	if name == "" || len(name) > maxNameLen {
		return fmt.Errorf("handoff: listener name %q must be 1 to %d bytes", name, maxNameLen)
	}
	return nil
}
