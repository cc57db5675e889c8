/**
 * scripts/kubeadm/retrofit.sh (phase 0) with STUB kubeadm, kubectl, crictl and systemctl on PATH:
 * kubeadm and a live apiserver cannot run here. The stubs behave like the real ones where it
 * matters: `kubeadm init phase upload-config` stores the ClusterConfiguration it is given (keys
 * sorted, as kubeadm marshals), `kubeadm init phase certs apiserver` signs a REAL certificate
 * with openssl from the config's SANs, `crictl stop` gives the apiserver a new container id, and
 * /readyz answers from the certificate on disk. openssl itself is real.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { parse } from "yaml";
import { retrofitCommand } from "../../components/kubeadm/retrofit";
import { runShipped } from "../helpers/shipped";
import { runScript, Stubs, StubRule } from "./helpers/stubs";

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

function rules(readyz: "always" | "original-cert-only"): StubRule[] {
    return [
        { bin: "kubectl", args: "-n kube-system get configmap kubeadm-config", stdoutFile: "$LIVE" },
        readyz === "always"
            ? { bin: "kubectl", args: "get --raw=/readyz", stdout: "ok" }
            : { bin: "kubectl", args: "get --raw=/readyz", run: `cmp -s "$KUBERNETES_DIR/pki/apiserver.crt" "$STUB_DIR/original-apiserver.crt" && printf ok` },
        { bin: "kubectl", args: "get pods --no-headers", stdout: "" },
        { bin: "kubeadm", args: "^config validate --config ", stdout: "ok\n" },
        { bin: "kubeadm", args: "^init phase upload-config kubeadm --config ", run: `bash "$STUB_DIR/upload.sh" "$6"` },
        { bin: "kubeadm", args: "^init phase certs apiserver --config ", run: `cp "$6" "$STUB_DIR/certs-config.yaml"; bash "$STUB_DIR/gen-cert.sh" "$6"` },
        { bin: "crictl", args: "^ps --name \\^kube-apiserver\\$ --state running -q$", run: `cat "$STUB_DIR/apiserver-id"` },
        { bin: "crictl", args: "^stop ", run: `echo "c$(( $(tr -dc 0-9 <"$STUB_DIR/apiserver-id") + 1 ))" >"$STUB_DIR/apiserver-id"` },
        { bin: "systemctl", args: "^restart kubelet$" },
    ];
}

describe("retrofit.sh (phase 0) with stub kubeadm/kubectl/crictl/systemctl (no kubeadm or apiserver can run here) and real openssl", function () {
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
    const APPLY = ["apply", "--node-name", "k8s-master", "--advertise-address", "10.0.20.100", "--endpoint", "10.0.20.99:6443",
        "--san", "10.0.20.99", "--san", "k8s-apiserver.viktorbarzin.lan", "--readyz-timeout", "2", "--verify-namespace", "calico-system"];
    const env = () => stubs.env({ KUBERNETES_DIR: k8s });

    /** A fresh master: the fixture as the live ClusterConfiguration, an original certificate signed by a test CA. */
    function freshMaster(fixture: string, readyz: "always" | "original-cert-only"): void {
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
        stubs.setRules(rules(readyz).map((r) => (r.stdoutFile === "$LIVE" ? { ...r, stdoutFile: path.join(stubs.dir, "live.yaml") } : r)));
    }

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
        const run = runScript("kubeadm/retrofit.sh", [...APPLY, "--backup-dir", backup], env());
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
        const run = runScript("kubeadm/retrofit.sh", [...APPLY, "--backup-dir", backup], env());
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
        const run = runScript("kubeadm/retrofit.sh", ["restore", "--node-name", "k8s-master", "--advertise-address", "10.0.20.100", "--backup-dir", backup, "--readyz-timeout", "2"], env());
        assert.equal(run.status, 0, run.stderr);
        const cc = live();
        assert.equal(cc.controlPlaneEndpoint, undefined);
        assert.deepEqual(cc.apiServer.certSANs, ["k8s-master.viktorbarzin.lan"]);
        assert.equal(cc.kubernetesVersion, "v1.34.9");
        assert.deepEqual(readFileSync(path.join(pki, "apiserver.crt")), readFileSync(path.join(stubs.dir, "original-apiserver.crt")));
        assert.deepEqual(readFileSync(path.join(pki, "apiserver.key")), readFileSync(path.join(stubs.dir, "original-apiserver.key")));
        assert.equal(commands("crictl").filter((c) => c.startsWith("stop")).length, 1, "the apiserver restarted once");
        const again = runScript("kubeadm/retrofit.sh", ["restore", "--node-name", "k8s-master", "--advertise-address", "10.0.20.100", "--backup-dir", backup], env());
        assert.equal(again.status, 0, again.stderr);
        assert.match(again.stderr, /original apiserver certificate is in place/);
    });

    it("/readyz never answers with the new certificate: the script restores the previous certificate and ClusterConfiguration itself, and fails", () => {
        freshMaster("cluster-configuration-v1beta4.yaml", "original-cert-only");
        const run = runScript("kubeadm/retrofit.sh", [...APPLY, "--backup-dir", backup], env());
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
        const run = runScript("kubeadm/retrofit.sh", [...APPLY, "--backup-dir", backup], stubs.env({ KUBERNETES_DIR: k8s, DROP_SAN: "DNS:kubernetes.default" }));
        assert.equal(run.status, 1);
        assert.match(run.stderr, /old ones missing: DNS:kubernetes\.default/);
        assert.deepEqual(readFileSync(path.join(pki, "apiserver.crt")), readFileSync(path.join(stubs.dir, "original-apiserver.crt")));
        assert.deepEqual(commands("crictl").filter((c) => c.startsWith("stop")), []);
    });

    it("v1beta3, shipped as the program ships it (bundle with the embedded patch tool on stdin): the API version found is kept", () => {
        freshMaster("cluster-configuration-v1beta3.yaml", "always");
        const step = retrofitCommand({
            sshUser: "ubuntu",
            node: "k8s-master",
            advertiseAddress: "10.0.20.100",
            backupDir: backup,
            readyzTimeoutSeconds: 2,
            endpoint: "10.0.20.99:6443",
            sans: ["10.0.20.99", "k8s-apiserver.viktorbarzin.lan"],
            verifyNamespaces: ["calico-system"],
        });
        const run = runShipped(step, env());
        assert.equal(run.status, 0, run.stderr);
        assert.equal(live().apiVersion, "kubeadm.k8s.io/v1beta3");
        assert.equal(live().controlPlaneEndpoint, "10.0.20.99:6443");
        assert.equal(live().apiServer.extraArgs["oidc-issuer-url"], "https://dex.viktorbarzin.me");
        const certsConfig = readFileSync(path.join(stubs.dir, "certs-config.yaml"), "utf8");
        assert.equal((certsConfig.match(/apiVersion: kubeadm\.k8s\.io\/v1beta3/g) ?? []).length, 2, "InitConfiguration and ClusterConfiguration both v1beta3");
    });

    it("kubeadm refusing the patched configuration stops everything before any change", () => {
        freshMaster("cluster-configuration-v1beta4.yaml", "always");
        stubs.setRules([
            { bin: "kubeadm", args: "^config validate ", stderr: "unknown field \"foo\"\n", exit: 1 },
            ...rules("always").map((r) => (r.stdoutFile === "$LIVE" ? { ...r, stdoutFile: path.join(stubs.dir, "live.yaml") } : r)),
        ]);
        const run = runScript("kubeadm/retrofit.sh", [...APPLY, "--backup-dir", backup], env());
        assert.equal(run.status, 1);
        assert.match(run.stderr, /unknown field "foo"[\s\S]*kubeadm refuses the new configuration \(above\); nothing was changed/);
        assert.deepEqual(commands("kubeadm").map((c) => c.split(" ").slice(0, 2).join(" ")), ["config validate"]);
        assert.equal(live().controlPlaneEndpoint, undefined);
        assert.deepEqual(readFileSync(path.join(pki, "apiserver.crt")), readFileSync(path.join(stubs.dir, "original-apiserver.crt")));
    });

    it("refuses bad arguments with exit 2 and touches nothing", () => {
        stubs.clearCalls();
        assert.equal(runScript("kubeadm/retrofit.sh", ["apply", "--node-name", "k8s-master", "--advertise-address", "10.0.20.300", "--backup-dir", backup], env()).status, 2);
        assert.equal(runScript("kubeadm/retrofit.sh", ["apply", "--node-name", "k8s-master", "--advertise-address", "10.0.20.100", "--backup-dir", "relative"], env()).status, 2);
        assert.equal(runScript("kubeadm/retrofit.sh", ["frobnicate"], env()).status, 2);
        assert.deepEqual(stubs.calls(), []);
    });
});
