package jobs

import "github.com/nats-io/nats.go/jetstream"

// readAll passes on what it delivers; when Next fails, in is closed after
// the error is put in readErr. stop ends the iterator and waits for the
// reading goroutine.
func readAll(it jetstream.MessagesContext) (in <-chan jetstream.Msg, readErr <-chan error, stop func()) {
	msgs, errs := make(chan jetstream.Msg, aggBatch), make(chan error, 1)
	quit, exited := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(exited)
		defer close(msgs)
		for {
			m, err := it.Next()
			if err != nil {
				errs <- err
				return
			}
			select {
			case msgs <- m:
			case <-quit:
				return
			}
		}
	}()
	return msgs, errs, func() {
		close(quit)
		it.Stop()
		<-exited
	}
}

// takeMore adds to first what is already waiting in in, up to aggBatch.
func takeMore(in <-chan jetstream.Msg, first jetstream.Msg) []jetstream.Msg {
	msgs := []jetstream.Msg{first}
	for len(msgs) < aggBatch {
		select {
		case m, ok := <-in:
			if !ok {
				return msgs
			}
			msgs = append(msgs, m)
		default:
			return msgs
		}
	}
	return msgs
}
