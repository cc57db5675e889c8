/**
 * scripts/kubeadm/patch-cluster-config.py on ClusterConfiguration documents as kubeadm writes them
 * (v1beta3: extraArgs as a map; v1beta4: extraArgs as a list of {name, value}). Real python3 and
 * PyYAML, as on every Ubuntu cloud image.
 */
import { strict as assert } from "assert";
import { spawnSync } from "child_process";
import { readFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { SCRIPTS_DIR } from "../../components/scriptFile";
import { KUBEADM_CONFIG_API_VERSIONS, retrofitPatch } from "@ha-control-plane/topology";
import { labTopology } from "../helpers/lab";
import { PYTHON3 } from "./helpers/stubs";

const TOOL = path.join(SCRIPTS_DIR, "kubeadm/patch-cluster-config.py");
const FIXTURES = path.resolve(__dirname, "../fixtures/kubeadm");
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), "utf8");

function tool(args: readonly string[], input: string): { status: number | null; stdout: string; stderr: string } {
    const run = spawnSync(PYTHON3, [TOOL, ...args], { input, encoding: "utf8", timeout: 15_000 });
    return { status: run.status, stdout: run.stdout, stderr: run.stderr };
}

type Doc = Record<string, any>;
const without = (doc: Doc, ...paths: string[]): Doc => {
    const copy = JSON.parse(JSON.stringify(doc)) as Doc;
    for (const p of paths) {
        const parts = p.split(".");
        let node = copy;
        for (const part of parts.slice(0, -1)) node = node[part] ?? {};
        delete node[parts[parts.length - 1]];
    }
    return copy;
};

describe("patch-cluster-config.py on kubeadm's ClusterConfiguration (v1beta3 and v1beta4)", () => {
    const patch = JSON.stringify(retrofitPatch(labTopology().cluster));

    for (const [version, file] of [
        ["v1beta3", "cluster-configuration-v1beta3.yaml"],
        ["v1beta4", "cluster-configuration-v1beta4.yaml"],
        ["v1beta4 (defaults)", "cluster-configuration-v1beta4-defaults.yaml"],
    ] as const) {
        it(`${version}: adds the endpoint and the SANs, keeps every other field and the apiVersion`, () => {
            const input = fixture(file);
            const run = tool(["--patch", patch], input);
            assert.equal(run.status, 0, run.stderr);
            assert.match(run.stderr, /changed/);
            const before = parse(input) as Doc;
            const after = parse(run.stdout) as Doc;
            assert.equal(after.apiVersion, before.apiVersion);
            assert.equal(after.controlPlaneEndpoint, "10.0.20.99:6443");
            const oldSans: string[] = before.apiServer?.certSANs ?? [];
            assert.deepEqual(after.apiServer.certSANs, [...oldSans, "10.0.20.99", "k8s-apiserver.viktorbarzin.lan"]);
            assert.deepEqual(without(after, "controlPlaneEndpoint", "apiServer.certSANs"), without(before, "apiServer.certSANs"));

            const again = tool(["--patch", patch], run.stdout);
            assert.equal(again.status, 0, again.stderr);
            assert.equal(again.stdout, run.stdout, "a second run changes nothing, byte for byte");
            assert.match(again.stderr, /unchanged/);
            assert.equal(tool(["--check", "--patch", patch], run.stdout).status, 0);
            assert.equal(tool(["--check", "--patch", patch], input).status, 1);
        });
    }

    it("v1beta4: extraArgs from a map keep their place and order, new flags append, null removes, lists repeat", () => {
        const flags = JSON.stringify({
            apiServer: { extraArgs: { "oidc-issuer-url": "https://dex.example", "oidc-username-claim": "email", "audit-log-path": null, "tls-cipher-suites": ["A", "B"] } },
            etcd: { local: { extraArgs: { "snapshot-count": 10000, "auto-compaction-retention": "8" } } },
        });
        const run = tool(["--patch", flags], fixture("cluster-configuration-v1beta4.yaml"));
        assert.equal(run.status, 0, run.stderr);
        const doc = parse(run.stdout) as Doc;
        assert.deepEqual(doc.apiServer.extraArgs, [
            { name: "audit-policy-file", value: "/etc/kubernetes/audit-policy.yaml" },
            { name: "authorization-mode", value: "Node,RBAC" },
            { name: "oidc-client-id", value: "kubernetes" },
            { name: "oidc-issuer-url", value: "https://dex.example" },
            { name: "oidc-username-claim", value: "email" },
            { name: "tls-cipher-suites", value: "A" },
            { name: "tls-cipher-suites", value: "B" },
        ]);
        assert.deepEqual(doc.etcd.local.extraArgs, [
            { name: "listen-metrics-urls", value: "http://0.0.0.0:2381" },
            { name: "snapshot-count", value: "10000" },
            { name: "auto-compaction-retention", value: "8" },
        ]);
        assert.equal(doc.etcd.local.dataDir, "/var/lib/etcd");
        assert.equal(tool(["--patch", flags], run.stdout).stdout, run.stdout, "idempotent");
    });

    it("v1beta3: the same document applies to the map form", () => {
        const flags = JSON.stringify({ apiServer: { extraArgs: { "oidc-issuer-url": "https://dex.example", "audit-log-path": null } }, etcd: { local: { extraArgs: { "snapshot-count": 10000 } } } });
        const run = tool(["--patch", flags], fixture("cluster-configuration-v1beta3.yaml"));
        assert.equal(run.status, 0, run.stderr);
        const doc = parse(run.stdout) as Doc;
        assert.equal(doc.apiServer.extraArgs["oidc-issuer-url"], "https://dex.example");
        assert.equal(doc.apiServer.extraArgs["audit-log-path"], undefined);
        assert.equal(doc.apiServer.extraArgs["authorization-mode"], "Node,RBAC");
        assert.deepEqual(doc.etcd.local.extraArgs, { "listen-metrics-urls": "http://0.0.0.0:2381", "snapshot-count": "10000" });
        const repeated = tool(["--patch", JSON.stringify({ apiServer: { extraArgs: { x: ["a", "b"] } } })], fixture("cluster-configuration-v1beta3.yaml"));
        assert.equal(repeated.status, 2, "v1beta3 cannot repeat a flag");
    });

    it("extraVolumes merge by name; {$delete} removes one; {$replace} sets a list as is", () => {
        const vol = { name: "audit", hostPath: "/etc/kubernetes/audit-v2.yaml", mountPath: "/etc/kubernetes/audit-policy.yaml", readOnly: true, pathType: "File" };
        const run = tool(["--patch", JSON.stringify({ apiServer: { extraVolumes: [vol, { name: "audit-log", $delete: true }, { name: "oidc-ca", hostPath: "/etc/ssl/oidc.crt", mountPath: "/etc/ssl/oidc.crt", readOnly: true }] } })], fixture("cluster-configuration-v1beta4.yaml"));
        assert.equal(run.status, 0, run.stderr);
        const doc = parse(run.stdout) as Doc;
        assert.deepEqual(doc.apiServer.extraVolumes.map((v: Doc) => [v.name, v.hostPath]), [["audit", "/etc/kubernetes/audit-v2.yaml"], ["oidc-ca", "/etc/ssl/oidc.crt"]]);
        const replaced = tool(["--patch", JSON.stringify({ apiServer: { certSANs: { $replace: ["only.example"] } } })], fixture("cluster-configuration-v1beta4.yaml"));
        assert.deepEqual((parse(replaced.stdout) as Doc).apiServer.certSANs, ["only.example"]);
    });

    it("--revert-from puts the endpoint and SANs back and keeps later changes (a newer kubernetesVersion)", () => {
        const original = fixture("cluster-configuration-v1beta4.yaml");
        const patched = tool(["--patch", patch], original).stdout;
        const upgraded = patched.replace("kubernetesVersion: v1.34.8", "kubernetesVersion: v1.34.9");
        const dir = require("fs").mkdtempSync(path.join(require("os").tmpdir(), "hacp-patch-"));
        const originalFile = path.join(dir, "original.yaml");
        require("fs").writeFileSync(originalFile, original);
        const run = tool(["--revert-from", originalFile, "--paths", "controlPlaneEndpoint,apiServer.certSANs"], upgraded);
        require("fs").rmSync(dir, { recursive: true, force: true });
        assert.equal(run.status, 0, run.stderr);
        const doc = parse(run.stdout) as Doc;
        assert.equal(doc.controlPlaneEndpoint, undefined);
        assert.deepEqual(doc.apiServer.certSANs, ["k8s-master.viktorbarzin.lan"]);
        assert.equal(doc.kubernetesVersion, "v1.34.9");
        assert.deepEqual(without(doc, "kubernetesVersion"), without(parse(original) as Doc, "kubernetesVersion"));
    });

    it("refuses what it does not understand, with exit 2 and a reason", () => {
        const v1beta2 = fixture("cluster-configuration-v1beta4-defaults.yaml").replace("v1beta4", "v1beta2");
        const old = tool(["--patch", patch], v1beta2);
        assert.equal(old.status, 2);
        assert.match(old.stderr, /apiVersion 'kubeadm.k8s.io\/v1beta2' is not one of/);
        assert.equal(tool(["--patch", "{not json"], fixture("cluster-configuration-v1beta4.yaml")).status, 2);
        assert.equal(tool(["--patch", '{"kind":"InitConfiguration"}'], fixture("cluster-configuration-v1beta4.yaml")).status, 2);
        assert.equal(tool(["--patch", patch], "kind: InitConfiguration\n").status, 2);
    });

    it("supports exactly the API versions the pure layer names", () => {
        const run = tool(["--supported-versions"], "");
        assert.deepEqual(run.stdout.trim().split("\n"), [...KUBEADM_CONFIG_API_VERSIONS]);
    });

    it("patches only the ClusterConfiguration of a multi-document kubeadm file", () => {
        const init = "apiVersion: kubeadm.k8s.io/v1beta4\nkind: InitConfiguration\nnodeRegistration:\n  name: k8s-master\n";
        const run = tool(["--patch", patch], `${init}---\n${fixture("cluster-configuration-v1beta4.yaml")}`);
        assert.equal(run.status, 0, run.stderr);
        const docs = run.stdout.split(/^---$/m).map((d) => parse(d) as Doc);
        assert.deepEqual(docs[0], parse(init));
        assert.equal(docs[1].controlPlaneEndpoint, "10.0.20.99:6443");
    });
});
