package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// The pprof profiles are served only when asked for: they show internals.
func TestAdminHandlerServesProfilesOnlyWithProfiling(t *testing.T) {
	for _, profiling := range []bool{false, true} {
		want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[profiling]
		rec := httptest.NewRecorder()
		adminHandler(&readiness{}, profiling).ServeHTTP(rec, httptest.NewRequest("GET", "/debug/pprof/heap?gc=1", nil))
		if rec.Code != want {
			t.Errorf("profiling %v: GET /debug/pprof/heap = %d, want %d", profiling, rec.Code, want)
		}
	}
}
