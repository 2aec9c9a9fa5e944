// Command pulumi-resource-random is a STAND-IN for the `random` resource plugin, written by
// nexus-platform. It is used only when the real provider cannot be had: the real one is built
// from github.com/pulumi/pulumi-random/provider/v4, which the Go module proxy reachable from
// this workplace does not serve (403 "This module version is not available" for the release
// versions and for the pseudo-version of the release commit), and no registry package ships
// its binary. scripts/toolchain.sh always prefers a real `pulumi-resource-random` at the pinned
// version (on PATH or already installed in PULUMI_HOME).
//
// Scope: the resources this project uses, with the same tokens, property names, defaults and
// lifecycle as random v4 (every input change forces a replacement; `keepers` is the explicit
// trigger; `result` and `bcryptHash` are secrets):
//   - random:index/randomPassword:RandomPassword
//   - random:index/randomString:RandomString
//
// Any other random resource fails with a clear error.
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"math/big"
	"os"
	"os/signal"
	"sort"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/common/resource"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/plugin"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"golang.org/x/crypto/bcrypt"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
	"google.golang.org/protobuf/types/known/structpb"
)

// version is stamped by scripts/toolchain.sh to the plugin version the pinned pulumi-random
// Python SDK requests (-ldflags "-X main.version=...").
var version = "0.0.0-dev"

const (
	tokPassword = "random:index/randomPassword:RandomPassword"
	tokString   = "random:index/randomString:RandomString"

	lowerChars   = "abcdefghijklmnopqrstuvwxyz"
	upperChars   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	numericChars = "0123456789"
	// The default special characters of random v4.
	specialChars = "!@#$%&*()-_=+[]{}<>:?"
)

// inputs of RandomPassword/RandomString and their defaults (random v4 schema).
var boolDefaults = map[string]bool{"lower": true, "upper": true, "numeric": true, "special": true}
var intDefaults = map[string]float64{"minLower": 0, "minUpper": 0, "minNumeric": 0, "minSpecial": 0}
var knownInputs = map[string]bool{
	"length": true, "lower": true, "upper": true, "numeric": true, "number": true, "special": true,
	"minLower": true, "minUpper": true, "minNumeric": true, "minSpecial": true,
	"overrideSpecial": true, "keepers": true,
}

type provider struct {
	pulumirpc.UnimplementedResourceProviderServer
}

var marshalOpts = plugin.MarshalOptions{KeepUnknowns: true, KeepSecrets: true, SkipNulls: true}

func unmarshal(s *structpb.Struct) (resource.PropertyMap, error) {
	return plugin.UnmarshalProperties(s, marshalOpts)
}

// supportedInputs is what every call that takes a resource's inputs starts with: refuse a type the
// stand-in does not implement, then decode the inputs.
func supportedInputs(urn string, s *structpb.Struct) (resource.PropertyMap, error) {
	if err := supported(urn); err != nil {
		return nil, err
	}
	return unmarshal(s)
}

func marshal(m resource.PropertyMap) (*structpb.Struct, error) {
	return plugin.MarshalProperties(m, marshalOpts)
}

func typeOf(urn string) string { return string(resource.URN(urn).Type()) }

func supported(urn string) error {
	switch typeOf(urn) {
	case tokPassword, tokString:
		return nil
	}
	return fmt.Errorf("%s is not implemented by nexus-platform's stand-in random provider %s "+
		"(only RandomPassword and RandomString are)", typeOf(urn), version)
}

func main() {
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println(version)
		return
	}
	cancel := make(chan bool)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sigs; close(cancel) }()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterResourceProviderServer(srv, &provider{})
			return nil
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-random: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-resource-random: %v\n", err)
		os.Exit(1)
	}
}

func (p *provider) Handshake(context.Context, *pulumirpc.ProviderHandshakeRequest,
) (*pulumirpc.ProviderHandshakeResponse, error) {
	return &pulumirpc.ProviderHandshakeResponse{AcceptSecrets: true, AcceptResources: true, AcceptOutputs: true}, nil
}

func (p *provider) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (p *provider) GetSchema(context.Context, *pulumirpc.GetSchemaRequest) (*pulumirpc.GetSchemaResponse, error) {
	schema, err := json.Marshal(map[string]any{
		"name":        "random",
		"version":     version,
		"description": "nexus-platform stand-in for the random provider (RandomPassword, RandomString)",
	})
	return &pulumirpc.GetSchemaResponse{Schema: string(schema)}, err
}

func (p *provider) CheckConfig(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	return &pulumirpc.CheckResponse{Inputs: req.News}, nil
}

func (p *provider) DiffConfig(context.Context, *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	return &pulumirpc.DiffResponse{Changes: pulumirpc.DiffResponse_DIFF_NONE}, nil
}

func (p *provider) Configure(context.Context, *pulumirpc.ConfigureRequest) (*pulumirpc.ConfigureResponse, error) {
	return &pulumirpc.ConfigureResponse{AcceptSecrets: true, SupportsPreview: true, AcceptResources: true}, nil
}

func (p *provider) Cancel(context.Context, *emptypb.Empty) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}

// Check validates the inputs and fills in random v4's defaults.
func (p *provider) Check(_ context.Context, req *pulumirpc.CheckRequest) (*pulumirpc.CheckResponse, error) {
	news, err := supportedInputs(req.Urn, req.News)
	if err != nil {
		return nil, err
	}
	var failures []*pulumirpc.CheckFailure
	fail := func(prop, reason string) {
		failures = append(failures, &pulumirpc.CheckFailure{Property: prop, Reason: reason})
	}
	for k := range news {
		if !knownInputs[string(k)] {
			fail(string(k), fmt.Sprintf("unknown property %q", k))
		}
	}
	length, ok := news["length"]
	switch {
	case !ok || length.IsNull():
		fail("length", "missing required property 'length'")
	case length.IsNumber() && length.NumberValue() < 1:
		fail("length", "length must be at least 1")
	}
	for k, d := range boolDefaults {
		if v, ok := news[resource.PropertyKey(k)]; !ok || v.IsNull() {
			news[resource.PropertyKey(k)] = resource.NewBoolProperty(d)
		}
	}
	// `number` is the deprecated alias of `numeric`.
	if v, ok := news["number"]; !ok || v.IsNull() {
		news["number"] = news["numeric"]
	}
	for k, d := range intDefaults {
		if v, ok := news[resource.PropertyKey(k)]; !ok || v.IsNull() {
			news[resource.PropertyKey(k)] = resource.NewNumberProperty(d)
		}
	}
	inputs, err := marshal(news)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CheckResponse{Inputs: inputs, Failures: failures}, nil
}

// Diff: as in random v4, every input is ForceNew, so any change replaces the resource.
func (p *provider) Diff(_ context.Context, req *pulumirpc.DiffRequest) (*pulumirpc.DiffResponse, error) {
	olds, err := unmarshal(req.Olds)
	if err != nil {
		return nil, err
	}
	news, err := unmarshal(req.News)
	if err != nil {
		return nil, err
	}
	ignored := map[string]bool{}
	for _, k := range req.IgnoreChanges {
		ignored[k] = true
	}
	var replaces []string
	detailed := map[string]*pulumirpc.PropertyDiff{}
	for k := range knownInputs {
		if ignored[k] {
			continue
		}
		o, n := olds[resource.PropertyKey(k)], news[resource.PropertyKey(k)]
		if o.IsNull() && n.IsNull() {
			continue
		}
		if n.ContainsUnknowns() || !o.DeepEquals(n) {
			replaces = append(replaces, k)
			kind := pulumirpc.PropertyDiff_UPDATE_REPLACE
			if o.IsNull() {
				kind = pulumirpc.PropertyDiff_ADD_REPLACE
			} else if n.IsNull() {
				kind = pulumirpc.PropertyDiff_DELETE_REPLACE
			}
			detailed[k] = &pulumirpc.PropertyDiff{Kind: kind, InputDiff: true}
		}
	}
	sort.Strings(replaces)
	changes := pulumirpc.DiffResponse_DIFF_NONE
	if len(replaces) > 0 {
		changes = pulumirpc.DiffResponse_DIFF_SOME
	}
	return &pulumirpc.DiffResponse{
		Changes: changes, Replaces: replaces, Diffs: replaces,
		DetailedDiff: detailed, HasDetailedDiff: true,
	}, nil
}

func intInput(m resource.PropertyMap, k string) int {
	if v, ok := m[resource.PropertyKey(k)]; ok && v.IsNumber() {
		return int(v.NumberValue())
	}
	return 0
}

func boolInput(m resource.PropertyMap, k string) bool {
	if v, ok := m[resource.PropertyKey(k)]; ok && v.IsBool() {
		return v.BoolValue()
	}
	return boolDefaults[k]
}

func pick(set string) (byte, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(set))))
	if err != nil {
		return 0, err
	}
	return set[n.Int64()], nil
}

// generate follows random v4: the minimum counts of each class first, then the rest from the
// union of the enabled classes, then a cryptographically random shuffle.
func generate(in resource.PropertyMap) (string, error) {
	length := intInput(in, "length")
	special := specialChars
	if v, ok := in["overrideSpecial"]; ok && v.IsString() {
		special = v.StringValue()
	}
	type class struct {
		chars string
		on    bool
		min   int
	}
	classes := []class{
		{lowerChars, boolInput(in, "lower"), intInput(in, "minLower")},
		{upperChars, boolInput(in, "upper"), intInput(in, "minUpper")},
		{numericChars, boolInput(in, "numeric"), intInput(in, "minNumeric")},
		{special, boolInput(in, "special"), intInput(in, "minSpecial")},
	}
	var all string
	var out []byte
	for _, c := range classes {
		if !c.on || c.chars == "" {
			continue
		}
		all += c.chars
		for i := 0; i < c.min; i++ {
			b, err := pick(c.chars)
			if err != nil {
				return "", err
			}
			out = append(out, b)
		}
	}
	if all == "" {
		return "", fmt.Errorf("at least one of lower, upper, numeric or special must be enabled")
	}
	for len(out) < length {
		b, err := pick(all)
		if err != nil {
			return "", err
		}
		out = append(out, b)
	}
	for i := len(out) - 1; i > 0; i-- {
		j, err := rand.Int(rand.Reader, big.NewInt(int64(i+1)))
		if err != nil {
			return "", err
		}
		out[i], out[j.Int64()] = out[j.Int64()], out[i]
	}
	return string(out), nil
}

func (p *provider) Create(_ context.Context, req *pulumirpc.CreateRequest) (*pulumirpc.CreateResponse, error) {
	in, err := supportedInputs(req.Urn, req.Properties)
	if err != nil {
		return nil, err
	}
	outs := in.Copy()
	isPassword := typeOf(req.Urn) == tokPassword
	if req.Preview {
		outs["result"] = resource.MakeComputed(resource.NewStringProperty(""))
		if isPassword {
			outs["bcryptHash"] = resource.MakeComputed(resource.NewStringProperty(""))
		}
		props, err := marshal(outs)
		return &pulumirpc.CreateResponse{Properties: props}, err
	}
	result, err := generate(in)
	if err != nil {
		return nil, err
	}
	id := result
	if isPassword {
		hash, err := bcrypt.GenerateFromPassword([]byte(result), bcrypt.DefaultCost)
		if err != nil {
			return nil, err
		}
		id = "none"
		outs["result"] = resource.MakeSecret(resource.NewStringProperty(result))
		outs["bcryptHash"] = resource.MakeSecret(resource.NewStringProperty(string(hash)))
	} else {
		outs["result"] = resource.NewStringProperty(result)
	}
	props, err := marshal(outs)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.CreateResponse{Id: id, Properties: props}, nil
}

// Read returns the recorded state: a random value only exists in the state.
func (p *provider) Read(_ context.Context, req *pulumirpc.ReadRequest) (*pulumirpc.ReadResponse, error) {
	return &pulumirpc.ReadResponse{Id: req.Id, Properties: req.Properties, Inputs: req.Inputs}, nil
}

// Update is only reached for changes that need no replacement, which random has none of.
func (p *provider) Update(_ context.Context, req *pulumirpc.UpdateRequest) (*pulumirpc.UpdateResponse, error) {
	return &pulumirpc.UpdateResponse{Properties: req.Olds}, nil
}

func (p *provider) Delete(context.Context, *pulumirpc.DeleteRequest) (*emptypb.Empty, error) {
	return &emptypb.Empty{}, nil
}
