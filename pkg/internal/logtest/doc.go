// Package logtest gives tests a *slog.Logger that writes through testing.TB,
// and a handler that records what was logged so tests can assert on level,
// message and fields.
package logtest
