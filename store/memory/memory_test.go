package memory_test

import (
	"testing"

	"github.com/castellan-authz/castellan/store"
	"github.com/castellan-authz/castellan/store/memory"
	"github.com/castellan-authz/castellan/store/storetest"
)

func TestStore(t *testing.T) {
	storetest.Run(t, func(testing.TB) store.Store { return memory.New() })
}
