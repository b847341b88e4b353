// Package allocstest measures what a piece of code allocates, for tests
// that compare the cost of one change at two cluster sizes. It reads the
// process's counters, so tests using it must not run in parallel, and
// under the race detector (see racetest) the numbers mean nothing.
package allocstest
