package main

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
)

// tracingConfig is the tracing section of the configuration (--tracing-*
// flags, CASTELLAN_TRACING_* variables, `tracing:` in the file). Each key
// that is set wins over its standard OTEL_* variable; the variables apply
// to what it leaves unset, and the exporter reads the others (headers,
// timeout, TLS, compression) from the environment as usual.
type tracingConfig struct {
	Endpoint    string // OTEL_EXPORTER_OTLP_ENDPOINT: the collector's base URL
	Protocol    string // OTEL_EXPORTER_OTLP_PROTOCOL: http/protobuf or grpc
	ServiceName string // OTEL_SERVICE_NAME
	Sampler     string // OTEL_TRACES_SAMPLER
	SamplerArg  string // OTEL_TRACES_SAMPLER_ARG
}

// tracingFlags defines the --tracing-* flags on fs, writing into c.
func tracingFlags(fs *flag.FlagSet, c *tracingConfig) {
	fs.StringVar(&c.Endpoint, "tracing-endpoint", c.Endpoint, "export traces over OTLP to the collector at this base `URL`, e.g. http://otel-collector:4318 (default: OTEL_EXPORTER_OTLP_ENDPOINT or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT; tracing is off when none is set)")
	fs.StringVar(&c.Protocol, "tracing-protocol", c.Protocol, "OTLP protocol: http/protobuf or grpc (default: OTEL_EXPORTER_OTLP_TRACES_PROTOCOL, OTEL_EXPORTER_OTLP_PROTOCOL, else http/protobuf)")
	fs.StringVar(&c.ServiceName, "tracing-service-name", c.ServiceName, "the service.name of the spans (default: OTEL_SERVICE_NAME, else castellan)")
	fs.StringVar(&c.Sampler, "tracing-sampler", c.Sampler, "which requests are traced: always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio (default: OTEL_TRACES_SAMPLER, else parentbased_always_on)")
	fs.StringVar(&c.SamplerArg, "tracing-sampler-arg", c.SamplerArg, "the ratio of the traceidratio samplers, 0 to 1 (default: OTEL_TRACES_SAMPLER_ARG, else 1)")
}

// tracing is the OpenTelemetry tracing of `castellan serve`.
type tracing struct {
	tp       *sdktrace.TracerProvider
	protocol string
	endpoint string // as configured; "" when it comes from the environment
}

// startTracing turns tracing on when c or the standard environment names a
// collector (c.Endpoint, OTEL_EXPORTER_OTLP_ENDPOINT or
// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT). The protocol is c.Protocol,
// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL:
// http/protobuf (the default) or grpc; the service name c.ServiceName or
// OTEL_SERVICE_NAME, default castellan; the sampler c.Sampler (with
// c.SamplerArg) or the SDK's reading of OTEL_TRACES_SAMPLER. The exporters
// read the other OTEL_EXPORTER_OTLP_* variables (headers, timeout, TLS)
// and the resource OTEL_RESOURCE_ATTRIBUTES. It returns nil when tracing
// is off.
func startTracing(ctx context.Context, getenv func(string) string, c tracingConfig) (*tracing, error) {
	if c.Endpoint == "" && getenv("OTEL_EXPORTER_OTLP_ENDPOINT") == "" && getenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") == "" {
		if c.Protocol != "" || c.ServiceName != "" || c.Sampler != "" || c.SamplerArg != "" {
			return nil, usageError("--tracing-* settings without a collector: set --tracing-endpoint (tracing.endpoint) or OTEL_EXPORTER_OTLP_ENDPOINT")
		}
		return nil, nil
	}
	protocol := c.Protocol
	if protocol == "" {
		protocol = getenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
	}
	if protocol == "" {
		protocol = getenv("OTEL_EXPORTER_OTLP_PROTOCOL")
	}
	if protocol == "" {
		protocol = "http/protobuf"
	}
	var sampler sdktrace.Sampler
	if c.Sampler != "" || c.SamplerArg != "" {
		var err error
		if sampler, err = parseSampler(c.Sampler, c.SamplerArg); err != nil {
			return nil, err
		}
	}
	if c.Endpoint != "" {
		u, err := url.Parse(c.Endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, usageError("--tracing-endpoint: %q is not an http:// or https:// URL of a collector", c.Endpoint)
		}
	}
	var (
		exp sdktrace.SpanExporter
		err error
	)
	switch protocol {
	case "http/protobuf":
		var opts []otlptracehttp.Option
		if c.Endpoint != "" {
			// A base URL, as OTEL_EXPORTER_OTLP_ENDPOINT: the traces
			// path is appended.
			opts = append(opts, otlptracehttp.WithEndpointURL(strings.TrimSuffix(c.Endpoint, "/")+"/v1/traces"))
		}
		exp, err = otlptracehttp.New(ctx, opts...)
	case "grpc":
		var opts []otlptracegrpc.Option
		if c.Endpoint != "" {
			opts = append(opts, otlptracegrpc.WithEndpointURL(c.Endpoint))
		}
		exp, err = otlptracegrpc.New(ctx, opts...)
	default:
		return nil, usageError("the OTLP protocol %q is not http/protobuf or grpc (--tracing-protocol, OTEL_EXPORTER_OTLP_PROTOCOL)", protocol)
	}
	if err != nil {
		return nil, fmt.Errorf("the OTLP trace exporter: %w", err)
	}
	name := c.ServiceName
	if name == "" {
		name = getenv("OTEL_SERVICE_NAME")
	}
	if name == "" {
		name = "castellan"
	}
	res, err := resource.New(ctx, resource.WithTelemetrySDK(), resource.WithFromEnv(),
		resource.WithAttributes(attribute.String("service.name", name)))
	if err != nil {
		return nil, fmt.Errorf("the trace resource: %w", err)
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithBatcher(exp), sdktrace.WithResource(res)}
	if sampler != nil {
		opts = append(opts, sdktrace.WithSampler(sampler))
	}
	return &tracing{tp: sdktrace.NewTracerProvider(opts...), protocol: protocol, endpoint: c.Endpoint}, nil
}

// parseSampler is the sampler of --tracing-sampler and
// --tracing-sampler-arg, named as OTEL_TRACES_SAMPLER names them; an
// argument alone means parentbased_traceidratio.
func parseSampler(name, arg string) (sdktrace.Sampler, error) {
	ratio := 1.0
	if arg != "" {
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil || r < 0 || r > 1 {
			return nil, usageError("--tracing-sampler-arg: %q is not a ratio from 0 to 1", arg)
		}
		ratio = r
	}
	if name == "" {
		name = "parentbased_traceidratio"
	}
	switch name {
	case "always_on":
		return sdktrace.AlwaysSample(), nil
	case "always_off":
		return sdktrace.NeverSample(), nil
	case "traceidratio":
		return sdktrace.TraceIDRatioBased(ratio), nil
	case "parentbased_always_on":
		return sdktrace.ParentBased(sdktrace.AlwaysSample()), nil
	case "parentbased_always_off":
		return sdktrace.ParentBased(sdktrace.NeverSample()), nil
	case "parentbased_traceidratio":
		return sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio)), nil
	}
	return nil, usageError("--tracing-sampler: %q is not always_on, always_off, traceidratio, parentbased_always_on, parentbased_always_off or parentbased_traceidratio", name)
}

// shutdown sends the spans still buffered, within 5 s.
func (t *tracing) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return t.tp.Shutdown(ctx)
}
