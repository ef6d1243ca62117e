package sdk

import (
	"context"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/xdpchain/xdpchain/plugins/internal/rawmap"
	pluginpb "github.com/xdpchain/xdpchain/plugins/proto"
)

// brokerTimeout bounds one map operation through the daemon.
const brokerTimeout = 30 * time.Second

// brokerMap sends raw map operations to the daemon's Maps service.
type brokerMap struct {
	name   string
	client pluginpb.MapsClient
}

// fromStatus maps the Maps service's status codes to the SDK's errors.
func fromStatus(err error) error {
	if err == nil {
		return nil
	}
	st, ok := status.FromError(err)
	if !ok {
		return err
	}
	switch st.Code() {
	case codes.NotFound:
		return fmt.Errorf("%w (daemon: %s)", ErrKeyNotExist, st.Message())
	case codes.AlreadyExists:
		return fmt.Errorf("%w (daemon: %s)", ErrKeyExist, st.Message())
	case codes.PermissionDenied:
		return fmt.Errorf("%w: map operation (daemon: %s)", ErrPermission, st.Message())
	case codes.InvalidArgument:
		return fmt.Errorf("%w (daemon: %s)", ErrEncoding, st.Message())
	}
	return fmt.Errorf("daemon: %s: %s", st.Code(), st.Message())
}

func (b *brokerMap) Lookup(key []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), brokerTimeout)
	defer cancel()
	resp, err := b.client.Lookup(ctx, &pluginpb.MapLookupRequest{Map: b.name, Key: key})
	if err != nil {
		return nil, fromStatus(err)
	}
	return resp.GetValue(), nil
}

func (b *brokerMap) Update(key, value []byte, flags uint64) error {
	ctx, cancel := context.WithTimeout(context.Background(), brokerTimeout)
	defer cancel()
	_, err := b.client.Update(ctx, &pluginpb.MapUpdateRequest{Map: b.name, Key: key, Value: value, Flags: flags})
	return fromStatus(err)
}

func (b *brokerMap) Delete(key []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), brokerTimeout)
	defer cancel()
	_, err := b.client.Delete(ctx, &pluginpb.MapDeleteRequest{Map: b.name, Key: key})
	return fromStatus(err)
}

func (b *brokerMap) BatchUpdate(keys, values [][]byte, flags uint64) (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), brokerTimeout)
	defer cancel()
	resp, err := b.client.BatchUpdate(ctx, &pluginpb.MapBatchUpdateRequest{Map: b.name, Keys: keys, Values: values, Flags: flags})
	if err != nil {
		return 0, fromStatus(err)
	}
	if resp.GetErrorCode() != 0 {
		return int(resp.GetCount()), fromStatus(status.Error(codes.Code(resp.GetErrorCode()), resp.GetErrorMessage()))
	}
	return int(resp.GetCount()), nil
}

func (b *brokerMap) Iterate() rawmap.Iterator {
	ctx, cancel := context.WithCancel(context.Background())
	stream, err := b.client.Iterate(ctx, &pluginpb.MapIterateRequest{Map: b.name})
	return &brokerIterator{stream: stream, err: fromStatus(err), cancel: cancel}
}

func (b *brokerMap) Close() error { return nil }

type brokerIterator struct {
	stream pluginpb.Maps_IterateClient
	err    error
	cancel context.CancelFunc
	done   bool
}

func (i *brokerIterator) Next() ([]byte, []byte, bool) {
	if i.err != nil || i.done {
		i.cancel()
		return nil, nil, false
	}
	e, err := i.stream.Recv()
	if err == io.EOF {
		i.done = true
		i.cancel()
		return nil, nil, false
	}
	if err != nil {
		i.err = fromStatus(err)
		i.cancel()
		return nil, nil, false
	}
	return e.GetKey(), e.GetValue(), true
}

func (i *brokerIterator) Err() error { return i.err }
