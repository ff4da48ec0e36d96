package drive

import (
	"context"
	"os"

	"github.com/chromedp/chromedp"

	chromiumpkg "github.com/patchlab/patchlab/tools/browserbench/chromium"
)

type chromium struct {
	ctx     context.Context
	cancel  []context.CancelFunc
	profile string
}

func startChromium(ctx context.Context) (Browser, error) {
	profile, err := os.MkdirTemp("", "patchlab-chromium-")
	if err != nil {
		return nil, err
	}
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.WithoutCancel(ctx), chromiumpkg.AllocatorOptions(chromiumpkg.Find(), profile)...)
	tab, cancelTab := chromedp.NewContext(alloc)
	b := &chromium{ctx: tab, cancel: []context.CancelFunc{cancelTab, cancelAlloc}, profile: profile}
	if err := chromedp.Do(tab); err != nil {
		b.Close()
		return nil, err
	}
	return b, nil
}

func (b *chromium) Name() string { return "chromium" }

// run runs steps in the tab, stopping when ctx is done.
func (b *chromium) run(ctx context.Context, steps ...chromedp.Action[chromedp.Void]) error {
	done := make(chan error, 1)
	go func() { done <- chromedp.Do(b.ctx, steps...) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (b *chromium) Open(ctx context.Context, url string) error {
	return b.run(ctx, chromedp.Navigate(url))
}

func (b *chromium) Eval(ctx context.Context, expr string, out any) error {
	var text string
	err := b.run(ctx, func(c context.Context, t *chromedp.Target) (chromedp.Void, error) {
		var err error
		text, err = chromedp.Evaluate[string](wrap(expr), chromedp.EvalAwaitPromise)(c, t)
		return chromedp.Void{}, err
	})
	if err != nil {
		return err
	}
	return decode(text, out)
}

func (b *chromium) SetViewport(ctx context.Context, width, height int) error {
	return b.run(ctx, chromedp.EmulateViewport(int64(width), int64(height)))
}

func (b *chromium) Close() error {
	for _, c := range b.cancel {
		c()
	}
	return os.RemoveAll(b.profile)
}
