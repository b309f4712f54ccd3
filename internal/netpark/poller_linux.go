package netpark

import (
	"errors"
	"fmt"

	"golang.org/x/sys/unix"
)

// epoll is the Linux readiness set. Descriptors registered here are also in the Go
// runtime's own epoll set; the kernel allows a descriptor in several sets, and
// EPOLLONESHOT disables ours after its first report so that a readable connection
// is reported once, however long its owner takes to read.
type epoll struct {
	epfd   int
	wakefd int               // an eventfd, registered as stopID
	events []unix.EpollEvent // wait's buffer; wait runs on one goroutine only
}

func newPoller() (poller, error) {
	epfd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("netpark: epoll_create1: %w", err)
	}
	wakefd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		unix.Close(epfd)
		return nil, fmt.Errorf("netpark: eventfd: %w", err)
	}
	p := &epoll{epfd: epfd, wakefd: wakefd, events: make([]unix.EpollEvent, 128)}
	ev := unix.EpollEvent{Events: unix.EPOLLIN}
	if err := unix.EpollCtl(epfd, unix.EPOLL_CTL_ADD, wakefd, &ev); err != nil {
		p.close()
		return nil, fmt.Errorf("netpark: epoll_ctl: %w", err)
	}
	return p, nil
}

func (p *epoll) add(fd int, id uint64) error {
	ev := unix.EpollEvent{
		Events: unix.EPOLLIN | unix.EPOLLRDHUP | unix.EPOLLONESHOT,
		Fd:     int32(uint32(id)),
		Pad:    int32(uint32(id >> 32)),
	}
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_ADD, fd, &ev)
}

func (p *epoll) del(fd int) error {
	return unix.EpollCtl(p.epfd, unix.EPOLL_CTL_DEL, fd, nil)
}

func (p *epoll) wait(ids []uint64) (int, error) {
	events := p.events[:min(len(ids), len(p.events))]
	for {
		n, err := unix.EpollWait(p.epfd, events, -1)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("epoll_wait: %w", err)
		}
		for i, ev := range events[:n] {
			ids[i] = uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
		}
		return n, nil
	}
}

func (p *epoll) stop() error {
	_, err := unix.Write(p.wakefd, []byte{1, 0, 0, 0, 0, 0, 0, 0})
	return err
}

func (p *epoll) close() error {
	return errors.Join(unix.Close(p.epfd), unix.Close(p.wakefd))
}
