package diagnose

import "context"

func (d *run) serverChecks(ctx context.Context)    {}
func (d *run) mtaSTSChecks(ctx context.Context)    {}
func (d *run) blocklistChecks(ctx context.Context) {}
