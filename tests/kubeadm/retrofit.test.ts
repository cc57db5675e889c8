/**
 * scripts/kubeadm/retrofit.sh (phase 0) as the program ships it (retrofitCommand: the bundle with
 * lib.sh and the embedded patch tool on stdin to `sudo -n bash -s --`), apply as create and
 * restore as delete, with STAND-IN kubeadm, kubectl, crictl and systemctl on PATH:
 * kubeadm and a live apiserver cannot run here. The stubs behave like the real ones where it
 * matters: `kubeadm init phase upload-config` stores the ClusterConfiguration it is given (keys
 * sorted, as kubeadm marshals), `kubeadm init phase certs apiserver` signs a REAL certificate
 * with openssl from the config's SANs, `crictl stop` gives the apiserver a new container id, and
 * /readyz answers from the certificate on disk. openssl itself is real.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse } from "yaml";
import { retrofitCommand } from "../../components/kubeadm/retrofit";
import { runShipped, ShippedRun, withEditedLine } from "../helpers/shipped";
import { Stubs, StubRule } from "./helpers/stubs";

const FIXTURES = path.resolve(__dirname, "../fixtures/kubeadm");

/** Signs $PKI/apiserver.{crt,key} like kubeadm: default SANs, node name, advertise address, certSANs, endpoint host. */
const GEN_CERT = String.raw`#!/usr/bin/env bash
set -euo pipefail
cfg=$1 pki=$KUBERNETES_DIR/pki
sans=$(python3 - "$cfg" <<'PY'
import ipaddress, os, sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
init = next(d for d in docs if d.get("kind") == "InitConfiguration")
cc = next(d for d in docs if d.get("kind") == "ClusterConfiguration")
names = ["kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local", init["nodeRegistration"]["name"]]
ips = ["10.96.0.1", init["localAPIEndpoint"]["advertiseAddress"]]
extra = list((cc.get("apiServer") or {}).get("certSANs") or [])
if cc.get("controlPlaneEndpoint"):
    extra.append(cc["controlPlaneEndpoint"].rsplit(":", 1)[0])
for s in extra:
    try:
        ipaddress.ip_address(s); ips.append(s)
    except ValueError:
        names.append(s)
out = []
for entry in ["DNS:" + n for n in names] + ["IP:" + i for i in ips]:
    if entry not in out and entry != os.environ.get("DROP_SAN"):
        out.append(entry)
print(",".join(out))
PY
)
tmp=$(mktemp -d)
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$pki/apiserver.key" -subj /CN=kube-apiserver -out "$tmp/csr" 2>/dev/null
printf 'subjectAltName=%s\n' "$sans" >"$tmp/ext"
openssl x509 -req -in "$tmp/csr" -CA "$pki/ca.crt" -CAkey "$pki/ca.key" -CAcreateserial -days 365 -extfile "$tmp/ext" -out "$pki/apiserver.crt" 2>/dev/null
rm -rf "$tmp"
`;

/** kubeadm stores the ClusterConfiguration of the file it is given. */
const UPLOAD = String.raw`#!/usr/bin/env bash
set -euo pipefail
cp "$1" "$STUB_DIR/uploaded-$(date +%s%N).yaml"
python3 - "$1" "$STUB_DIR/live.yaml" <<'PY'
import sys, yaml
docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
cc = next(d for d in docs if d.get("kind") == "ClusterConfiguration")
open(sys.argv[2], "w").write(yaml.safe_dump(cc, sort_keys=True, default_flow_style=False))
PY
`;

/** When the stand-in apiserver answers /readyz: always, never, or only with the original or only with a regenerated certificate. */
type Readyz = "always" | "never" | "original-cert-only" | "new-cert-only";

const READYZ: Record<Readyz, Omit<StubRule, "bin" | "args">> = {
    always: { stdout: "ok" },
    never: { stderr: "The connection to the server was refused\n", exit: 1 },
    "original-cert-only": { run: `cmp -s "$KUBERNETES_DIR/pki/apiserver.crt" "$STUB_DIR/original-apiserver.crt" && printf ok` },
    "new-cert-only": { run: `cmp -s "$KUBERNETES_DIR/pki/apiserver.crt" "$STUB_DIR/original-apiserver.crt" || printf ok` },
};

function rules(readyz: Readyz): StubRule[] {
    return [
        { bin: "kubectl", args: "-n kube-system get configmap kubeadm-config", stdoutFile: "$LIVE" },
        { bin: "kubectl", args: "get --raw=/readyz", ...READYZ[readyz] },
        { bin: "kubectl", args: "get pods --no-headers", stdout: "" },
        { bin: "kubeadm", args: "^config validate --config ", stdout: "ok\n" },
        { bin: "kubeadm", args: "^init phase upload-config kubeadm --config ", run: `bash "$STUB_DIR/upload.sh" "$6"` },
        { bin: "kubeadm", args: "^init phase certs apiserver --config ", run: `cp "$6" "$STUB_DIR/certs-config.yaml"; bash "$STUB_DIR/gen-cert.sh" "$6"` },
        { bin: "crictl", args: "^ps --name \\^kube-apiserver\\$ --state running -q$", run: `cat "$STUB_DIR/apiserver-id"` },
        { bin: "crictl", args: "^stop ", run: `echo "c$(( $(tr -dc 0-9 <"$STUB_DIR/apiserver-id") + 1 ))" >"$STUB_DIR/apiserver-id"` },
        { bin: "systemctl", args: "^restart kubelet$" },
    ];
}

describe("retrofit.sh (phase 0) as shipped, with stand-in kubeadm/kubectl/crictl/systemctl (no kubeadm or apiserver can run here) and real openssl", function () {
    this.timeout(60_000);
    let stubs: Stubs;
    let k8s: string;
    let backup: string;
    let pki: string;

    const sans = (cert: string) =>
        spawnSync("openssl", ["x509", "-in", cert, "-noout", "-ext", "subjectAltName"], { encoding: "utf8" }).stdout
            .split("\n").slice(1).join(",").split(",").map((s) => s.trim().replace(/^IP Address:/, "IP:")).filter(Boolean).sort();
    const live = () => parse(readFileSync(path.join(stubs.dir, "live.yaml"), "utf8")) as Record<string, any>;
    const commands = (bin: string) => stubs.calls(bin).map((c) => c.argv.join(" "));
    const env = (extra: Record<string, string> = {}) => stubs.env({ KUBERNETES_DIR: k8s, ...extra });
    /** Phase 0's apply/restore step as Retrofit builds it, for the lab's existing master. */
    const step = (over: Partial<Parameters<typeof retrofitCommand>[0]> = {}) =>
        retrofitCommand({
            sshUser: "ubuntu",
            node: "k8s-master",
            advertiseAddress: "10.0.20.100",
            backupDir: backup,
            readyzTimeoutSeconds: 2,
            endpoint: "10.0.20.99:6443",
            sans: ["10.0.20.99", "k8s-apiserver.viktorbarzin.lan"],
            verifyNamespaces: ["calico-system"],
            ...over,
        });
    const apply = (shipped = step(), e = env()): ShippedRun => runShipped(shipped, e);
    const restore = (shipped = step(), e = env()): ShippedRun => runShipped(shipped, e, { action: "delete" });

    /** A fresh master: the fixture as the live ClusterConfiguration, an original certificate signed by a test CA. */
    function freshMaster(fixture: string, readyz: Readyz): void {
        rmSync(k8s, { recursive: true, force: true });
        rmSync(backup, { recursive: true, force: true });
        mkdirSync(pki, { recursive: true });
        writeFileSync(path.join(k8s, "admin.conf"), "# stub kubeconfig\n");
        spawnSync("openssl", ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", path.join(pki, "ca.key"),
            "-out", path.join(pki, "ca.crt"), "-subj", "/CN=kubernetes", "-days", "3650"], { stdio: "ignore" });
        copyFileSync(path.join(FIXTURES, fixture), path.join(stubs.dir, "live.yaml"));
        const initial = path.join(stubs.dir, "initial.yaml");
        const version = live().apiVersion as string;
        writeFileSync(initial, `apiVersion: ${version}\nkind: InitConfiguration\nlocalAPIEndpoint:\n  advertiseAddress: 10.0.20.100\nnodeRegistration:\n  name: k8s-master\n---\n${readFileSync(path.join(FIXTURES, fixture), "utf8")}`);
        assert.equal(spawnSync("bash", [path.join(stubs.dir, "gen-cert.sh"), initial], { env: env() }).status, 0);
        copyFileSync(path.join(pki, "apiserver.crt"), path.join(stubs.dir, "original-apiserver.crt"));
        copyFileSync(path.join(pki, "apiserver.key"), path.join(stubs.dir, "original-apiserver.key"));
        writeFileSync(path.join(stubs.dir, "apiserver-id"), "c1\n");
        answer(readyz);
    }

    /** The stand-ins' rules: `first` before the usual ones (the first rule that matches answers). */
    function answer(readyz: Readyz, first: readonly StubRule[] = []): void {
        stubs.setRules([...first, ...rules(readyz)].map((r) => (r.stdoutFile === "$LIVE" ? { ...r, stdoutFile: path.join(stubs.dir, "live.yaml") } : r)));
    }
    const originalCert = () => readFileSync(path.join(stubs.dir, "original-apiserver.crt"));
    const liveCert = () => readFileSync(path.join(pki, "apiserver.crt"));
    const restarts = () => commands("crictl").filter((c) => c.startsWith("stop"));

    before(() => {
        stubs = new Stubs(["kubeadm", "kubectl", "crictl", "systemctl"]);
        writeFileSync(path.join(stubs.dir, "gen-cert.sh"), GEN_CERT);
        writeFileSync(path.join(stubs.dir, "upload.sh"), UPLOAD);
        const root = mkdtempSync(path.join(tmpdir(), "hacp-retrofit-"));
        k8s = path.join(root, "etc-kubernetes");
        pki = path.join(k8s, "pki");
        backup = path.join(root, "backup");
    });
    after(() => {
        if (k8s) rmSync(path.dirname(k8s), { recursive: true, force: true });
        stubs?.destroy();
    });

    it("v1beta4: patches kubeadm-config through kubeadm, regenerates the certificate (new SANs, old kept), restarts the apiserver", () => {
        freshMaster("cluster-configuration-v1beta4.yaml", "always");
        const originalSans = sans(path.join(pki, "apiserver.crt"));
        const run = apply();
        assert.equal(run.status, 0, run.stderr);

        const cc = live();
        assert.equal(cc.apiVersion, "kubeadm.k8s.io/v1beta4");
        assert.equal(cc.controlPlaneEndpoint, "10.0.20.99:6443");
        assert.deepEqual(cc.apiServer.certSANs, ["k8s-master.viktorbarzin.lan", "10.0.20.99", "k8s-apiserver.viktorbarzin.lan"]);
        assert.equal(cc.apiServer.extraArgs.length, 5, "the other fields are kept");

        const kubeadm = commands("kubeadm");
        assert.equal(kubeadm.length, 3);
        assert.match(kubeadm[0], /^config validate --config \S+kubeadm-\d+\.yaml$/);
        assert.match(kubeadm[1], /^init phase upload-config kubeadm --config \S+kubeadm-\d+\.yaml$/);
        assert.match(kubeadm[2], /^init phase certs apiserver --config \S+certs\.yaml$/);
        const certsConfig = readFileSync(path.join(stubs.dir, "certs-config.yaml"), "utf8").split(/^---$/m).map((d) => parse(d) as Record<string, any>);
        assert.deepEqual(certsConfig[0], {
            apiVersion: "kubeadm.k8s.io/v1beta4", kind: "InitConfiguration",
            localAPIEndpoint: { advertiseAddress: "10.0.20.100", bindPort: 6443 }, nodeRegistration: { name: "k8s-master" },
        });

        const newSans = sans(path.join(pki, "apiserver.crt"));
        for (const san of originalSans) assert.ok(newSans.includes(san), `old SAN ${san} kept`);
        assert.ok(newSans.includes("IP:10.0.20.99") && newSans.includes("DNS:k8s-apiserver.viktorbarzin.lan"), newSans.join(" "));
        assert.deepEqual(commands("crictl").filter((c) => c.startsWith("stop")), ["stop --timeout 30 c1"]);
        assert.match(run.stdout, /^retrofit: controlPlaneEndpoint=10\.0\.20\.99:6443 certSANs=10\.0\.20\.99,k8s-apiserver\.viktorbarzin\.lan certificate=.*IP:10\.0\.20\.99/m);

        assert.deepEqual(readFileSync(path.join(backup, "original", "apiserver.crt")), readFileSync(path.join(stubs.dir, "original-apiserver.crt")), "original pair saved");
        assert.equal(readFileSync(path.join(backup, "original", "ClusterConfiguration.yaml"), "utf8"), readFileSync(path.join(FIXTURES, "cluster-configuration-v1beta4.yaml"), "utf8"));
    });

    it("a second run changes nothing: no upload, no new certificate, no restart", () => {
        stubs.clearCalls();
        const certBefore = readFileSync(path.join(pki, "apiserver.crt"));
        const run = apply();
        assert.equal(run.status, 0, run.stderr);
        assert.deepEqual(commands("kubeadm"), []);
        assert.deepEqual(commands("crictl").filter((c) => c.startsWith("stop")), []);
        assert.deepEqual(readFileSync(path.join(pki, "apiserver.crt")), certBefore);
        assert.match(run.stderr, /already has controlPlaneEndpoint/);
        assert.match(run.stderr, /already carries 10\.0\.20\.99 k8s-apiserver\.viktorbarzin\.lan: no restart/);
    });

    it("restore (phase 0's delete) puts back the original certificate, endpoint and SANs, and keeps a later upgrade", () => {
        // kubeadm upgrade between phase 0 and the rollback: kubernetesVersion moved on.
        const upgraded = readFileSync(path.join(stubs.dir, "live.yaml"), "utf8").replace("v1.34.8", "v1.34.9");
        writeFileSync(path.join(stubs.dir, "live.yaml"), upgraded);
        stubs.clearCalls();
        const run = restore();
        assert.equal(run.status, 0, run.stderr);
        const cc = live();
        assert.equal(cc.controlPlaneEndpoint, undefined);
        assert.deepEqual(cc.apiServer.certSANs, ["k8s-master.viktorbarzin.lan"]);
        assert.equal(cc.kubernetesVersion, "v1.34.9");
        assert.deepEqual(readFileSync(path.join(pki, "apiserver.crt")), readFileSync(path.join(stubs.dir, "original-apiserver.crt")));
        assert.deepEqual(readFileSync(path.join(pki, "apiserver.key")), readFileSync(path.join(stubs.dir, "original-apiserver.key")));
        assert.equal(commands("crictl").filter((c) => c.startsWith("stop")).length, 1, "the apiserver restarted once");
        const again = restore();
        assert.equal(again.status, 0, again.stderr);
        assert.match(again.stderr, /original apiserver certificate is in place/);
    });

    it("/readyz never answers with the new certificate: the script restores the previous certificate and ClusterConfiguration itself, and fails", () => {
        freshMaster("cluster-configuration-v1beta4.yaml", "original-cert-only");
        const run = apply();
        assert.equal(run.status, 1, run.stderr);
        assert.match(run.stderr, /restoring the previous one \(seed 0\.5\)/);
        assert.match(run.stderr, /did not answer \/readyz within 2s after the certificate change; the previous certificate and ClusterConfiguration were restored and the apiserver is ready again/);
        assert.deepEqual(readFileSync(path.join(pki, "apiserver.crt")), readFileSync(path.join(stubs.dir, "original-apiserver.crt")));
        assert.equal(live().controlPlaneEndpoint, undefined, "kubeadm-config back to the original");
        assert.deepEqual(live().apiServer.certSANs, ["k8s-master.viktorbarzin.lan"]);
        assert.equal(commands("crictl").filter((c) => c.startsWith("stop")).length, 2, "restarted with the new pair, then with the old one");
        const kubeadm = commands("kubeadm");
        assert.equal(kubeadm.filter((c) => c.startsWith("init phase upload-config")).length, 2, "uploaded, then the original re-uploaded");
        // kubelet is restarted only if the container restart alone does not bring the old pair up.
        assert.deepEqual(commands("systemctl"), []);
    });

    it("a regenerated certificate that loses an old SAN is refused before any restart", () => {
        freshMaster("cluster-configuration-v1beta4.yaml", "always");
        const run = apply(step(), env({ DROP_SAN: "DNS:kubernetes.default" }));
        assert.equal(run.status, 1);
        assert.match(run.stderr, /old ones missing: DNS:kubernetes\.default/);
        assert.deepEqual(readFileSync(path.join(pki, "apiserver.crt")), readFileSync(path.join(stubs.dir, "original-apiserver.crt")));
        assert.deepEqual(commands("crictl").filter((c) => c.startsWith("stop")), []);
    });

    it("v1beta3: the API version found is kept", () => {
        freshMaster("cluster-configuration-v1beta3.yaml", "always");
        const run = apply();
        assert.equal(run.status, 0, run.stderr);
        assert.equal(live().apiVersion, "kubeadm.k8s.io/v1beta3");
        assert.equal(live().controlPlaneEndpoint, "10.0.20.99:6443");
        assert.equal(live().apiServer.extraArgs["oidc-issuer-url"], "https://dex.viktorbarzin.me");
        const certsConfig = readFileSync(path.join(stubs.dir, "certs-config.yaml"), "utf8");
        assert.equal((certsConfig.match(/apiVersion: kubeadm\.k8s\.io\/v1beta3/g) ?? []).length, 2, "InitConfiguration and ClusterConfiguration both v1beta3");
    });

    it("kubeadm refusing the patched configuration stops everything before any change", () => {
        freshMaster("cluster-configuration-v1beta4.yaml", "always");
        answer("always", [{ bin: "kubeadm", args: "^config validate ", stderr: "unknown field \"foo\"\n", exit: 1 }]);
        const run = apply();
        assert.equal(run.status, 1);
        assert.match(run.stderr, /unknown field "foo"[\s\S]*kubeadm refuses the new configuration \(above\); nothing was changed/);
        assert.deepEqual(commands("kubeadm").map((c) => c.split(" ").slice(0, 2).join(" ")), ["config validate"]);
        assert.equal(live().controlPlaneEndpoint, undefined);
        assert.deepEqual(readFileSync(path.join(pki, "apiserver.crt")), readFileSync(path.join(stubs.dir, "original-apiserver.crt")));
    });


    it("refuses what it is given wrong with exit 2 and touches nothing: values the component passes on, and lines it never builds", () => {
        freshMaster("cluster-configuration-v1beta4.yaml", "always");
        stubs.clearCalls();
        const cases: [ReturnType<typeof step>, "create" | "delete", RegExp][] = [
            [step({ advertiseAddress: "10.0.20.300" }), "create", /--advertise-address must be an IPv4 address/],
            [step({ backupDir: "relative" }), "delete", /--backup-dir must be an absolute path/],
            [step({ readyzTimeoutSeconds: 2.5 }), "create", /--readyz-timeout and --bind-port are whole numbers/],
            [step({ sans: [] }), "create", /apply needs --endpoint and at least one --san/],
            [step({ node: "" }), "create", /--node-name needs a value/],
            [withEditedLine(step(), (l) => l.replace("--node-name k8s-master ", "")), "create", /--node-name is required/],
            [withEditedLine(step(), (l) => l.replace(/ apply .*$/, "")), "create", /apply or restore\?/],
            [withEditedLine(step(), (l) => l.replace(" apply ", " reapply ")), "create", /unknown command 'reapply' \(apply or restore\)/],
            [withEditedLine(step(), (l) => l.replace("--verify-namespace", "--verify-ns")), "create", /unknown argument '--verify-ns'/],
            [withEditedLine(step(), (l) => l.replace("--readyz-timeout 2", "--bind-port 64k3"), "delete"), "delete", /--readyz-timeout and --bind-port are whole numbers/],
        ];
        for (const [shipped, action, message] of cases) {
            const r = action === "create" ? apply(shipped) : restore(shipped);
            assert.equal(r.status, 2, `${message}: ${r.stderr}`);
            assert.match(r.stderr, new RegExp(`^retrofit: ${message.source} \\(see the usage at the top of the script\\)$`, "m"));
        }
        assert.deepEqual(stubs.calls(), [], "nothing asked of kubectl or kubeadm");
        assert.deepEqual(liveCert(), originalCert());
    });

    it("restore on a master phase 0 never changed: nothing to restore (exit 0, nothing asked)", () => {
        freshMaster("cluster-configuration-v1beta4.yaml", "always");
        stubs.clearCalls();
        const r = restore();
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, /no backup in .*\/original: phase 0 never changed this master, nothing to restore/);
        assert.deepEqual(stubs.calls(), []);
    });

    it("refuses (exit 1), changing nothing, a master whose kubeadm-config cannot be read or holds no ClusterConfiguration, or that has no apiserver certificate pair", () => {
        freshMaster("cluster-configuration-v1beta4.yaml", "always");
        answer("always", [{ bin: "kubectl", args: "get configmap kubeadm-config", stderr: "The connection to the server 10.0.20.100:6443 was refused\n", exit: 1 }]);
        const down = apply();
        assert.equal(down.status, 1);
        assert.match(down.stderr, /retrofit: ERROR: cannot read kube-system\/kubeadm-config \(is the apiserver up\?\)/);

        answer("always", [{ bin: "kubectl", args: "get configmap kubeadm-config", stdout: "" }]);
        const empty = apply();
        assert.equal(empty.status, 1);
        assert.match(empty.stderr, /retrofit: ERROR: kube-system\/kubeadm-config has no ClusterConfiguration/);

        answer("always");
        rmSync(path.join(pki, "apiserver.key"));
        const noPair = apply();
        assert.equal(noPair.status, 1);
        assert.match(noPair.stderr, /retrofit: ERROR: no apiserver certificate pair in .*pki \(apiserver\.crt, apiserver\.key\): is this the kubeadm control-plane node k8s-master\? Nothing was changed/);

        assert.deepEqual(commands("kubeadm"), [], "nothing uploaded");
        assert.deepEqual(restarts(), []);
        assert.equal(existsSync(path.join(backup, "original")), false, "nothing saved as the original");
        assert.deepEqual(liveCert(), originalCert());
    });

    it("kubeadm failing to upload the configuration, or storing something else, fails the apply before the certificate is touched", () => {
        freshMaster("cluster-configuration-v1beta4.yaml", "always");
        answer("always", [{ bin: "kubeadm", args: "^init phase upload-config ", stderr: "error uploading configuration: etcdserver: request timed out\n", exit: 1 }]);
        const failed = apply();
        assert.equal(failed.status, 1);
        assert.match(failed.stderr, /etcdserver: request timed out[\s\S]*retrofit: ERROR: kubeadm init phase upload-config kubeadm failed/);
        assert.equal(live().controlPlaneEndpoint, undefined);

        // kubeadm says it uploaded, but kubeadm-config does not change (another writer, an older kubeadm).
        answer("always", [{ bin: "kubeadm", args: "^init phase upload-config " }]);
        const lost = apply();
        assert.equal(lost.status, 1);
        assert.match(lost.stderr, /retrofit: ERROR: kubeadm-config does not hold the endpoint and SANs after the upload/);
        assert.deepEqual(liveCert(), originalCert());
        assert.deepEqual(restarts(), []);
    });

    it("kubeadm failing to regenerate the certificate puts the previous pair back and restarts nothing", () => {
        freshMaster("cluster-configuration-v1beta4.yaml", "always");
        answer("always", [{ bin: "kubeadm", args: "^init phase certs apiserver ", stderr: "error: failure loading ca certificate\n", exit: 1 }]);
        const r = apply();
        assert.equal(r.status, 1);
        assert.match(r.stderr, /retrofit: ERROR: kubeadm init phase certs apiserver failed; the previous certificate is back in place \(nothing restarted\)/);
        assert.deepEqual(liveCert(), originalCert());
        assert.deepEqual(readFileSync(path.join(pki, "apiserver.key")), readFileSync(path.join(stubs.dir, "original-apiserver.key")));
        assert.deepEqual(restarts(), []);
    });

    it("an apiserver that answers with neither certificate: the apply fails naming where to look, after a kubelet restart", () => {
        freshMaster("cluster-configuration-v1beta4.yaml", "never");
        const r = apply();
        assert.equal(r.status, 1);
        assert.match(r.stderr, /retrofit: ERROR: the apiserver is not ready even with the previous certificate restored \(.*\/runs\/\d{8}T\d{6}Z\); investigate: crictl ps -a --name kube-apiserver; crictl logs <id>; journalctl -u kubelet/);
        assert.deepEqual(liveCert(), originalCert(), "the previous pair is what is in place");
        assert.deepEqual(commands("systemctl"), ["restart kubelet"]);
    });

    describe("restore refusals, after an apply", () => {
        beforeEach(() => {
            freshMaster("cluster-configuration-v1beta4.yaml", "always");
            const applied = apply();
            assert.equal(applied.status, 0, applied.stderr);
            stubs.clearCalls();
        });

        it("refuses (exit 1) when kubeadm-config cannot be read, changing nothing", () => {
            const patched = liveCert();
            answer("always", [{ bin: "kubectl", args: "get configmap kubeadm-config", stderr: "Unable to connect to the server: dial tcp 10.0.20.100:6443: connect: connection refused\n", exit: 1 }]);
            const r = restore();
            assert.equal(r.status, 1);
            assert.match(r.stderr, /retrofit: ERROR: cannot read kube-system\/kubeadm-config \(is the apiserver up\?\)/);
            assert.deepEqual(liveCert(), patched);
            assert.deepEqual(commands("kubeadm"), []);
        });

        it("refuses (exit 1) when the current apiserver certificate or key is missing, naming the missing file(s), before changing anything", () => {
            const patched = { crt: liveCert(), key: readFileSync(path.join(pki, "apiserver.key")) };
            const cases: [string[], RegExp][] = [
                [["apiserver.key"], /missing: \S*\/pki\/apiserver\.key;/],
                [["apiserver.crt"], /missing: \S*\/pki\/apiserver\.crt;/],
                [["apiserver.crt", "apiserver.key"], /missing: \S*\/pki\/apiserver\.crt \S*\/pki\/apiserver\.key;/],
            ];
            for (const [gone, names] of cases) {
                for (const f of gone) rmSync(path.join(pki, f));
                const r = restore();
                assert.equal(r.status, 1, r.stderr);
                assert.match(r.stderr, /^retrofit: ERROR: the current apiserver certificate pair is incomplete, missing: .*; restore saves it before putting the original back, so nothing was changed\. Put the pair back \(or copy the original, .*\/original\/apiserver\.crt and apiserver\.key, into .*\/pki by hand\), then run the restore again$/m);
                assert.match(r.stderr, names);
                assert.deepEqual(stubs.calls(), [], "refused before asking kubectl, kubeadm or crictl anything");
                assert.equal(live().controlPlaneEndpoint, "10.0.20.99:6443", "kubeadm-config is still the patched one");
                for (const f of ["apiserver.crt", "apiserver.key"] as const) {
                    if (!gone.includes(f)) assert.deepEqual(readFileSync(path.join(pki, f)), f === "apiserver.crt" ? patched.crt : patched.key, `${f} untouched`);
                    else assert.equal(existsSync(path.join(pki, f)), false, `${f} not put back behind the operator's back`);
                }
                assert.deepEqual(readdirSync(path.join(backup, "runs")).filter((d) => d.startsWith("restore-")), [], "no restore run started");
                writeFileSync(path.join(pki, "apiserver.crt"), patched.crt);
                writeFileSync(path.join(pki, "apiserver.key"), patched.key);
            }
        });

        it("an apiserver that only comes up with the newer certificate: the newer certificate and ClusterConfiguration go back (exit 1, saying so)", () => {
            const patched = liveCert();
            answer("new-cert-only");
            const r = restore();
            assert.equal(r.status, 1);
            assert.match(r.stderr, /WARNING: the apiserver did not become ready with the original certificate: putting the newer one back/);
            assert.match(r.stderr, /retrofit: ERROR: could not restore the original certificate; the newer certificate and ClusterConfiguration are back in place/);
            assert.deepEqual(liveCert(), patched);
            assert.equal(live().controlPlaneEndpoint, "10.0.20.99:6443", "the patched ClusterConfiguration uploaded again");
        });

        it("an apiserver that answers with neither certificate: exit 1, naming where to look", () => {
            answer("never");
            const r = restore();
            assert.equal(r.status, 1);
            assert.match(r.stderr, /retrofit: ERROR: the apiserver is not ready with either certificate; investigate: crictl ps -a --name kube-apiserver; journalctl -u kubelet/);
        });
    });
});
