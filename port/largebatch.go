package port

import (
	"errors"
	"io"

	"github.com/spiredb/spire-port/port/wire"
)

// errServeStopped tells Serve that Stop ran while a large batch was being
// served: it returns as it does when it finds the server stopped.
var errServeStopped = errors.New("port: stopped")

// serveLargeBatch serves a batch frame longer than --max-frame entry by
// entry, as dispatchBatch serves one that fits: every request in it is
// answered, and only an entry longer than the limit is refused, with an
// error to its own id. The port's owner batches whatever its callers have
// waiting, so one oversized request must not cost the others in its batch
// their replies. It returns nil to go on serving, ErrCloseRequested after
// {close}, errServeStopped, or the read error that ended the stream.
func (s *Server) serveLargeBatch(scratch []byte, r io.Reader, big *wire.BatchTooLarge) ([]byte, error) {
	s.badFrames.Add(1)
	s.opt.Log.Printf("%v; serving its entries one at a time", big)
	lr := &io.LimitedReader{R: r, N: big.Remaining}
	for lr.N > 0 {
		id, body, err := wire.ReadBatchEntry(lr, s.opt.MaxFrame)
		switch {
		case errors.Is(err, wire.ErrFrameTooLarge):
			scratch = s.refuseTooLarge(scratch, "batch entry", id&^wire.MoreFlag, err)
			continue
		case errors.Is(err, io.ErrUnexpectedEOF):
			return scratch, err
		case err != nil:
			s.badFrames.Add(1)
			s.opt.Log.Printf("%v; the rest of the batch dropped", err)
			if _, err := io.Copy(io.Discard, lr); err != nil {
				return scratch, io.ErrUnexpectedEOF
			}
			return scratch, nil
		}
		if id&wire.MoreFlag != 0 {
			scratch = s.refuseHighID(scratch, id, " in a batch")
			continue
		}
		s.serving.Lock()
		if s.stopped {
			s.serving.Unlock()
			return scratch, errServeStopped
		}
		var closing bool
		scratch, closing = s.dispatch(scratch, id, body)
		s.serving.Unlock()
		if closing {
			return scratch, ErrCloseRequested
		}
	}
	return scratch, nil
}
