// Command pulumi-language-python is nexus-platform's own minimal Python language host.
//
// Why it exists: the upstream language host lives in its own Go module
// (github.com/pulumi/pulumi/sdk/python/cmd/pulumi-language-python/v3), which the Go module
// proxy reachable from this workplace does not serve at any version we asked for, and an
// install step that downloads release binaries is not possible here. This host is written
// against the served github.com/pulumi/pulumi/sdk/v3 module (gRPC protocol, Python
// toolchain/virtualenv handling) and runs programs with the `pulumi-language-python-exec`
// launcher that sdk/v3 ships, exactly as the upstream host does. It implements what
// `pulumi preview/up/destroy/stack/about` need from a language host: Handshake,
// GetPluginInfo, GetRequiredPlugins/GetRequiredPackages (from the pulumi-plugin.json files of
// the installed Python packages), Run, RunPlugin (Python policy packs, `--policy-pack DIR`, and
// Python plugins run from source), About and GetProgramDependencies. Everything else answers
// "unimplemented" (e.g. `pulumi new` prompts, installing dependencies, packing or linking SDKs).
//
// A real `pulumi-language-python` found on PATH is always preferred by scripts/toolchain.sh.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"github.com/pulumi/pulumi/sdk/v3/python/toolchain"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/emptypb"
)

// version is stamped by scripts/toolchain.sh (-ldflags "-X main.version=...").
var version = "0.0.0-dev"

// execScriptName is the program launcher shipped by sdk/v3 (python/cmd/pulumi-language-python-exec),
// installed next to this binary.
const execScriptName = "pulumi-language-python-exec"

// exitCodeUserActionable is what the launcher exits with after printing a user-facing error.
const exitCodeUserActionable = 32

// pluginScan prints one JSON object per installed Python distribution that carries a
// pulumi-plugin.json marking it as a resource plugin.
const pluginScan = `
import json, importlib.metadata as md
seen = set()
for d in md.distributions():
    for f in (d.files or []):
        if f.name != "pulumi-plugin.json":
            continue
        try:
            p = json.loads(f.read_text())
        except Exception:
            continue
        if not p.get("resource") or not p.get("name"):
            continue
        key = (p.get("name"), p.get("version"), p.get("parameterization") is not None)
        if key in seen:
            continue
        seen.add(key)
        print(json.dumps(p))
`

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engineAddress string
}

func main() {
	// The engine passes optional flags (e.g. -tracing, -v) and then its own address last.
	var engineAddress string
	for _, a := range os.Args[1:] {
		if !strings.HasPrefix(a, "-") {
			engineAddress = a
		}
	}
	if len(os.Args) == 2 && (os.Args[1] == "--version" || os.Args[1] == "-version") {
		fmt.Println(version)
		return
	}

	cancel := make(chan bool)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	go func() { <-sigs; close(cancel) }()

	h := &host{engineAddress: engineAddress}
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: cancel,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
		Options: rpcutil.OpenTracingServerInterceptorOptions(nil),
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-python: could not start server: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("%d\n", handle.Port)
	if err := <-handle.Done; err != nil {
		fmt.Fprintf(os.Stderr, "pulumi-language-python: %v\n", err)
		os.Exit(1)
	}
}

// resolve returns the Python toolchain for a program, honouring the project's runtime options
// (virtualenv, toolchain: pip|uv|poetry).
func resolve(info *pulumirpc.ProgramInfo) (toolchain.Toolchain, error) {
	opts := toolchain.PythonOptions{Toolchain: toolchain.Pip}
	if info != nil {
		opts.Root = info.RootDirectory
		opts.ProgramDir = info.ProgramDirectory
		if o := info.Options; o != nil {
			m := o.AsMap()
			if v, ok := m["virtualenv"].(string); ok {
				opts.Virtualenv = v
			}
			switch m["toolchain"] {
			case "uv":
				opts.Toolchain = toolchain.Uv
			case "poetry":
				opts.Toolchain = toolchain.Poetry
			}
		}
	}
	if opts.ProgramDir == "" {
		opts.ProgramDir = opts.Root
	}
	return toolchain.ResolveToolchain(opts)
}

type pluginJSON struct {
	Resource bool   `json:"resource"`
	Name     string `json:"name"`
	Version  string `json:"version"`
	Server   string `json:"server"`
}

func scanPlugins(ctx context.Context, info *pulumirpc.ProgramInfo) ([]pluginJSON, error) {
	tc, err := resolve(info)
	if err != nil {
		return nil, err
	}
	cmd, err := tc.Command(ctx, "-c", pluginScan)
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("listing Python packages with Pulumi plugins: %w: %s", err, stderr.String())
	}
	var plugins []pluginJSON
	for _, line := range strings.Split(string(out), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var p pluginJSON
		if err := json.Unmarshal([]byte(line), &p); err != nil {
			return nil, fmt.Errorf("parsing pulumi-plugin.json %q: %w", line, err)
		}
		p.Version = strings.TrimPrefix(p.Version, "v")
		if p.Version != "" {
			p.Version = "v" + p.Version
		}
		plugins = append(plugins, p)
	}
	return plugins, nil
}

func (h *host) Handshake(ctx context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.EngineAddress != "" {
		h.engineAddress = req.EngineAddress
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(ctx context.Context, _ *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: version}, nil
}

func (h *host) GetRequiredPlugins(ctx context.Context, req *pulumirpc.GetRequiredPluginsRequest,
) (*pulumirpc.GetRequiredPluginsResponse, error) {
	packages, err := h.GetRequiredPackages(ctx, &pulumirpc.GetRequiredPackagesRequest{Info: req.Info})
	if err != nil {
		return nil, err
	}
	// The older call of the two: the same resource plugins, in its own message type.
	resp := &pulumirpc.GetRequiredPluginsResponse{}
	for _, p := range packages.Packages {
		resp.Plugins = append(resp.Plugins, &pulumirpc.PluginDependency{
			Name: p.Name, Kind: p.Kind, Version: p.Version, Server: p.Server,
		})
	}
	return resp, nil
}

func (h *host) GetRequiredPackages(ctx context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	plugins, err := scanPlugins(ctx, req.Info)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetRequiredPackagesResponse{}
	for _, p := range plugins {
		resp.Packages = append(resp.Packages, &pulumirpc.PackageDependency{
			Name: p.Name, Kind: "resource", Version: p.Version, Server: p.Server,
		})
	}
	return resp, nil
}

func execScript() (string, error) {
	self, err := os.Executable()
	if err == nil {
		if resolved, rerr := filepath.EvalSymlinks(self); rerr == nil {
			self = resolved
		}
		candidate := filepath.Join(filepath.Dir(self), execScriptName)
		if _, serr := os.Stat(candidate); serr == nil {
			return candidate, nil
		}
	}
	if p, lerr := exec.LookPath(execScriptName); lerr == nil {
		return p, nil
	}
	return "", fmt.Errorf("%s not found next to %s or on PATH", execScriptName, self)
}

func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	script, err := execScript()
	if err != nil {
		return nil, err
	}
	tc, err := resolve(req.Info)
	if err != nil {
		return nil, err
	}

	pwd := req.Pwd
	program := req.Program
	root := pwd
	if req.Info != nil {
		if req.Info.ProgramDirectory != "" {
			pwd = req.Info.ProgramDirectory
		}
		if req.Info.EntryPoint != "" {
			program = req.Info.EntryPoint
		}
		if req.Info.RootDirectory != "" {
			root = req.Info.RootDirectory
		}
	}
	if program == "" {
		program = "."
	}

	args := []string{"-u", script,
		"--monitor", req.MonitorAddress,
		"--engine", h.engineAddress,
		"--project", req.Project,
		"--stack", req.Stack,
		"--pwd", pwd,
		"--root_directory", root,
		"--dry_run", strconv.FormatBool(req.DryRun),
		"--parallel", strconv.Itoa(int(req.Parallel)),
	}
	if req.Organization != "" {
		args = append(args, "--organization", req.Organization)
	}
	args = append(args, program)
	args = append(args, req.Args...)

	cmd, err := tc.Command(ctx, args...)
	if err != nil {
		return nil, err
	}
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cfg := req.Config
	if cfg == nil {
		cfg = map[string]string{}
	}
	keys := req.ConfigSecretKeys
	if keys == nil {
		keys = []string{}
	}
	config, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	secretKeys, err := json.Marshal(keys)
	if err != nil {
		return nil, err
	}
	cmd.Env = append(cmd.Env,
		"PULUMI_CONFIG="+string(config),
		"PULUMI_CONFIG_SECRET_KEYS="+string(secretKeys),
	)
	cmd.Dir = pwd
	cmd.Stdout = os.Stdout
	cmd.Stderr = os.Stderr

	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if errors.As(err, &exitErr) {
			if exitErr.ExitCode() == exitCodeUserActionable {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{
				Error: fmt.Sprintf("Program exited with non-zero exit code: %d", exitErr.ExitCode()),
			}, nil
		}
		return &pulumirpc.RunResponse{Error: err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

func (h *host) About(ctx context.Context, req *pulumirpc.AboutRequest) (*pulumirpc.AboutResponse, error) {
	tc, err := resolve(req.Info)
	if err != nil {
		return nil, err
	}
	info, err := tc.About(ctx)
	if err != nil {
		return nil, err
	}
	return &pulumirpc.AboutResponse{
		Executable: info.PythonExecutable,
		Version:    info.PythonVersion.String(),
		Metadata:   map[string]string{"langhost": "nexus-platform minimal python host " + version},
	}, nil
}

func (h *host) GetProgramDependencies(ctx context.Context, req *pulumirpc.GetProgramDependenciesRequest,
) (*pulumirpc.GetProgramDependenciesResponse, error) {
	tc, err := resolve(req.Info)
	if err != nil {
		return nil, err
	}
	deps, err := tc.ListPackages(ctx, req.TransitiveDependencies)
	if err != nil {
		return nil, err
	}
	resp := &pulumirpc.GetProgramDependenciesResponse{}
	for _, d := range deps {
		resp.Dependencies = append(resp.Dependencies, &pulumirpc.DependencyInfo{Name: d.Name, Version: d.Version})
	}
	return resp, nil
}

func (h *host) InstallDependencies(req *pulumirpc.InstallDependenciesRequest,
	server grpc.ServerStreamingServer[pulumirpc.InstallDependenciesResponse],
) error {
	return status.Error(codes.Unimplemented,
		"this minimal language host does not install dependencies: create the virtualenv with pip (see README)")
}

// RunPlugin runs a plugin written in Python from its source folder, e.g. a policy pack
// (`pulumi preview --policy-pack DIR`): `python -u DIR/ENTRYPOINT ARGS...` in the plugin's
// virtualenv, streaming its stdout (where it announces its gRPC port) and stderr to the engine.
func (h *host) RunPlugin(req *pulumirpc.RunPluginRequest,
	server grpc.ServerStreamingServer[pulumirpc.RunPluginResponse],
) error {
	ctx := server.Context()
	tc, err := resolve(req.Info)
	if err != nil {
		return err
	}
	dir := req.Pwd
	entry := "."
	if req.Info != nil {
		if req.Info.ProgramDirectory != "" {
			dir = req.Info.ProgramDirectory
		}
		if req.Info.EntryPoint != "" {
			entry = req.Info.EntryPoint
		}
	}
	target := filepath.Join(dir, entry)
	cmd, err := tc.Command(ctx, append([]string{"-u", target}, req.Args...)...)
	if err != nil {
		return err
	}
	env := req.Env
	if len(env) == 0 {
		env = os.Environ()
	}
	if venv, verr := tc.VirtualEnvPath(ctx); verr == nil && venv != "" {
		env = toolchain.ActivateVirtualEnv(env, venv)
	}
	cmd.Env = env
	cmd.Dir = req.Pwd
	if cmd.Dir == "" {
		cmd.Dir = dir
	}

	var mu sync.Mutex
	send := func(r *pulumirpc.RunPluginResponse) error {
		mu.Lock()
		defer mu.Unlock()
		return server.Send(r)
	}
	cmd.Stdout = streamWriter(func(b []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}})
	})
	cmd.Stderr = streamWriter(func(b []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}})
	})

	code := int32(0)
	if err := cmd.Run(); err != nil {
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) {
			return err
		}
		code = int32(exitErr.ExitCode())
	}
	return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: code}})
}

// streamWriter adapts a send function to io.Writer (copying, as gRPC may hold on to the bytes).
type streamWriter func([]byte) error

func (w streamWriter) Write(b []byte) (int, error) {
	if err := w(append([]byte(nil), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}
