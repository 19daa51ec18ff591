package engine

import (
	"fmt"
	"sort"
)

// ColumnFamilies lists the open column families, sorted.
func (e *Engine) ColumnFamilies() ([]string, error) {
	if err := e.begin(); err != nil {
		return nil, err
	}
	defer e.mu.RUnlock()
	names := make([]string, 0, len(e.cfs))
	for n := range e.cfs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// beginSchemaChange takes the write side of mu for a change of column
// families; on success the caller must call e.mu.Unlock.
func (e *Engine) beginSchemaChange(op string) error {
	if err := e.refuseReadOnly(op); err != nil {
		return err
	}
	e.mu.Lock()
	if err := e.unusable(); err != nil {
		e.mu.Unlock()
		return err
	}
	return nil
}

// CreateColumnFamily creates a column family with the engine's options.
func (e *Engine) CreateColumnFamily(name string) error {
	if err := validColumnFamilyName(name); err != nil {
		return err
	}
	if err := e.beginSchemaChange("create column family " + name); err != nil {
		return err
	}
	defer e.mu.Unlock()
	if _, ok := e.cfs[name]; ok {
		return fmt.Errorf("%w: %q", ErrColumnFamilyExists, name)
	}
	h, err := e.db.CreateColumnFamily(e.opts, name)
	if err != nil {
		return classify("create column family "+name, err)
	}
	e.cfs[name] = h
	return nil
}

// DropColumnFamily drops a column family and its data. "default" cannot be
// dropped.
func (e *Engine) DropColumnFamily(name string) error {
	if name == DefaultColumnFamily {
		return fmt.Errorf("%w: the default column family cannot be dropped", ErrInvalidArgument)
	}
	if err := e.beginSchemaChange("drop column family " + name); err != nil {
		return err
	}
	defer e.mu.Unlock()
	h, ok := e.cfs[name]
	if !ok {
		return &UnknownColumnFamilyError{Name: name}
	}
	if err := e.db.DropColumnFamily(h); err != nil {
		return classify("drop column family "+name, err)
	}
	h.Destroy()
	delete(e.cfs, name)
	return nil
}

// refuseReadOnly answers op on a read-only database as RocksDB answers
// every other write there. RocksDB's C API would let a column family be
// created or dropped through a read-only handle (and rewrite the MANIFEST
// the writer owns), and drops a CompactRange status on the floor.
func (e *Engine) refuseReadOnly(op string) error {
	if !e.cfg.ReadOnly {
		return nil
	}
	return &RocksDBError{Op: op, Kind: KindNotSupported, Msg: "Not implemented: Not supported operation in read only mode."}
}
