/**
 * What the suites of the per-node kubeadm scripts share (node-ready.sh, join-material.sh,
 * join-control-plane.sh, reset-node.sh, reset-node-via-agent.sh, proxmox-snapshot.sh,
 * preflight.sh): a host directory with an /etc/kubernetes of its own, and STUB kubeadm, kubectl,
 * qm, cloud-init, kubelet, containerd, systemctl, ping, ip, curl and iptables on PATH: kubeadm, a
 * live apiserver, Proxmox and a fresh VM cannot exist here, and nothing may touch this machine's
 * network or firewall. Every suite stubs them all, so a script that calls one more of them than
 * its suite expects still reaches a stub (exit 99), never this machine's.
 */
import { mkdirSync, mkdtempSync, rmSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { StubRule, Stubs } from "./stubs";
import { withoutClientFlags } from "./etcdSuite";

/** A bootstrap token and a certificate key of the right shapes (test values, never a cluster's). */
export const TOKEN = "abc123.0123456789abcdef";
export const KEY = "0f".repeat(32);

const STUBBED = ["kubeadm", "kubectl", "qm", "cloud-init", "kubelet", "containerd", "systemctl", "swapon", "ping", "ip", "curl", "iptables", "ip6tables", "ipvsadm"];

export interface NodeHost {
    readonly stubs: Stubs;
    /** A scratch directory of the suite. */
    readonly root: string;
    /** The node's /etc/kubernetes (KUBERNETES_DIR), emptied to a bare pki/ before each test. */
    readonly k8s: string;
    /** The stubs' environment with KUBERNETES_DIR, and EXTRA. */
    env(extra?: Record<string, string>): NodeJS.ProcessEnv;
    /** Each call of BIN's arguments. */
    argvOf(bin: string): string[][];
    /** Each call of BIN as one line, without the kubeconfig and timeout flags. */
    commands(bin: string): string[];
}

/** Registers the calling suite's hooks; the fields are there once its `before` ran. */
export function nodeHost(): NodeHost {
    let stubs: Stubs | undefined;
    let root: string | undefined;
    const ready = () => {
        if (!stubs || !root) throw new Error("nodeHost(): used before the suite's before hook");
        return { stubs, root, k8s: path.join(root, "etc-kubernetes") };
    };
    before(() => {
        stubs = new Stubs(STUBBED);
        root = mkdtempSync(path.join(tmpdir(), "hacp-node-"));
    });
    after(() => {
        if (root) rmSync(root, { recursive: true, force: true });
        stubs?.destroy();
    });
    beforeEach(() => {
        const { k8s } = ready();
        rmSync(k8s, { recursive: true, force: true });
        mkdirSync(path.join(k8s, "pki"), { recursive: true });
    });
    return {
        get stubs() {
            return ready().stubs;
        },
        get root() {
            return ready().root;
        },
        get k8s() {
            return ready().k8s;
        },
        env: (extra = {}) => ready().stubs.env({ KUBERNETES_DIR: ready().k8s, ...extra }),
        argvOf: (bin) => ready().stubs.calls(bin).map((c) => c.argv),
        commands: (bin) => ready().stubs.calls(bin).map((c) => withoutClientFlags(c.argv)),
    };
}

/**
 * STAND-IN qm for a running VM VMID whose guest agent answers: `qm guest exec VMID ... -- CMD`
 * runs CMD here, with the piped stdin (what the VM would receive, also kept in
 * $STUB_DIR/guest-stdin), and answers the agent's JSON (exitcode, out-data, err-data). CMD runs
 * with this test's PATH: its commands reach the stubs, never this machine's.
 */
export function guestAgentRules(vmid: number): StubRule[] {
    return [
        { bin: "qm", args: `^status ${vmid}$`, stdout: "status: running\n" },
        { bin: "qm", args: `^agent ${vmid} ping$` },
        {
            bin: "qm",
            // guest exec VMID --timeout N --pass-stdin 1 -- CMD...: CMD is from the 9th argument on.
            args: `^guest exec ${vmid} --timeout [0-9]+ --pass-stdin 1 -- `,
            run: [
                `tee "$STUB_DIR/guest-stdin" | "\${@:9}" >"$STUB_DIR/guest-out" 2>"$STUB_DIR/guest-err" && code=0 || code=$?`,
                `python3 -c 'import json, sys; print(json.dumps({"exitcode": int(sys.argv[1]), "exited": 1, "out-data": open(sys.argv[2]).read(), "err-data": open(sys.argv[3]).read()}))' "$code" "$STUB_DIR/guest-out" "$STUB_DIR/guest-err"`,
            ].join("\n"),
        },
    ];
}
