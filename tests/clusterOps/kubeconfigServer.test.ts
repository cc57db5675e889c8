import { strict as assert } from "assert";
import { chmodSync, existsSync, readFileSync, statSync, utimesSync, writeFileSync } from "fs";
import * as path from "path";
import { parse } from "yaml";
import { directServerUrl, loadTopology, vipServerUrl } from "@ha-control-plane/topology";
import { configMapFlipScript, kubeletFlipScript } from "../../components/clusterOps/cutover";
import { shippedScript } from "../../components/clusterOps/remote";
import { labConfig } from "../helpers/program";
import { runShipped } from "../helpers/shipped";
import { FakeCluster, FIXTURES, Json, nodesFixture } from "./helpers/fakeCluster";
import { readProjectFile } from "../../components/projectFiles";

/**
 * scripts/cluster/kubeconfig-server.sh (phase 4, and cluster-info in 1.5) on fixture files and,
 * for ConfigMaps, through a stub kubectl (no apiserver here); systemctl and curl are stubs too
 * (no kubelet, no network). The URLs are the lab's, from the topology.
 */
const lab = loadTopology(labConfig("7").raw, { project: "ha-control-plane", stack: "lab", readProjectFile });
const VIP = vipServerUrl(lab.cluster);
const DIRECT = directServerUrl(lab.existingMaster, lab.cluster);
const OWN_M2 = "https://10.0.20.110:6443";
const script = "cluster/kubeconfig-server.sh";

describe("kubeconfig-server.sh: kubelet.conf flipped to the VIP, idempotent, reversible (stub systemctl/curl)", function () {
    this.timeout(60_000);
    let cluster: FakeCluster;
    let conf: string;
    const original = readFileSync(path.join(FIXTURES, "kubelet.conf"), "utf8");
    beforeEach(() => {
        cluster = new FakeCluster({ nodes: nodesFixture("all-ready") });
        conf = cluster.file("kubelet.conf", original);
        chmodSync(conf, 0o600);
    });
    afterEach(() => cluster.cleanup());
    const env = () => ({ CLUSTER_CA: cluster.file("ca.crt", "") });
    /** KubeletCutover's flip as it ships (kubeletFlipScript through remoteScript): create flips, delete restores. */
    const step = (timeoutSeconds = 180) => shippedScript("ubuntu", kubeletFlipScript({ file: conf, to: VIP, froms: [DIRECT], timeoutSeconds }));
    const flip = (timeoutSeconds?: number) => runShipped(step(timeoutSeconds), cluster.env(env()));
    const restore = () => runShipped(step(), cluster.env(env()), { action: "delete" });
    const restarts = () => cluster.log().filter((l) => l === "systemctl restart kubelet").length;

    it("rewrites only the server, keeps mode and every other line, restarts the kubelet once it serves", () => {
        const run = flip();
        assert.equal(run.status, 0, run.stderr);
        const now = readFileSync(conf, "utf8");
        assert.equal(now, original.replace(`server: ${DIRECT}`, `server: ${VIP}`));
        assert.equal(statSync(conf).mode & 0o777, 0o600);
        assert.equal(parse(now).clusters[0].cluster.server, VIP);
        assert.equal(restarts(), 1);
        const log = cluster.log();
        assert.ok(log.indexOf(`curl ${VIP}/readyz`) < log.indexOf("systemctl restart kubelet"), "the VIP served before the kubelet was pointed at it");
        assert.ok(log.includes("curl http://127.0.0.1:10248/healthz"), "waited for the kubelet");
        assert.equal(readFileSync(`${conf}.pre-cutover`, "utf8"), `${DIRECT} ${VIP}\n`);
    });

    it("is idempotent: a second run changes nothing and does not restart the kubelet again", () => {
        assert.equal(flip().status, 0);
        const after = readFileSync(conf, "utf8");
        const run = flip();
        assert.equal(run.status, 0);
        assert.match(run.stdout, /already at https:\/\/10\.0\.20\.99:6443/);
        assert.equal(readFileSync(conf, "utf8"), after);
        assert.equal(restarts(), 1);
    });

    it("restarts a kubelet still running since before the change (a run cut short after the rewrite)", () => {
        assert.equal(flip().status, 0);
        cluster.file("kubelet-started", "Mon 2024-03-04 09:00:00 UTC\n");
        assert.equal(flip().status, 0);
        assert.equal(restarts(), 2);
    });

    it("is reversible: --restore puts the recorded server back byte for byte, and again is a no-op", () => {
        assert.equal(flip().status, 0);
        let run = restore();
        assert.equal(run.status, 0, run.stderr);
        assert.equal(readFileSync(conf, "utf8"), original);
        assert.ok(!existsSync(`${conf}.pre-cutover`));
        assert.equal(restarts(), 2);
        run = restore();
        assert.equal(run.status, 0);
        assert.match(run.stdout, /no cut-over record, nothing to restore/);
        assert.equal(restarts(), 2);
    });

    it("a master on its own endpoint (kubeadm's local mode) flips and restores to that endpoint", () => {
        writeFileSync(conf, original.replace(DIRECT, OWN_M2));
        const run = cluster.run(script, ["--file", conf, "--to", VIP, "--from", DIRECT, "--from", OWN_M2], { env: env() });
        assert.equal(run.status, 0, run.stderr);
        assert.match(readFileSync(conf, "utf8"), /server: https:\/\/10\.0\.20\.99:6443/);
        assert.equal(cluster.run(script, ["--file", conf, "--restore"], { env: env() }).status, 0);
        assert.match(readFileSync(conf, "utf8"), /server: https:\/\/10\.0\.20\.110:6443/);
    });

    it("a node already on the VIP is left alone, and its restore does not move it elsewhere", () => {
        writeFileSync(conf, original.replace(DIRECT, VIP));
        cluster.file("kubelet-started", "Thu 2099-01-01 00:00:00 UTC\n"); // started after the file changed
        assert.equal(flip().status, 0);
        assert.equal(restore().status, 0);
        assert.match(readFileSync(conf, "utf8"), /server: https:\/\/10\.0\.20\.99:6443/);
        assert.equal(restarts(), 0);
    });

    it("refuses a server it does not know, and does not flip towards a VIP that does not serve", () => {
        writeFileSync(conf, original.replace(DIRECT, "https://10.0.20.250:6443"));
        let run = flip();
        assert.equal(run.status, 1);
        assert.match(run.stderr, /names server https:\/\/10\.0\.20\.250:6443, which is none of/);
        writeFileSync(conf, original);
        cluster.file("readyz-fail", "");
        run = flip(1);
        assert.equal(run.status, 1);
        assert.match(run.stderr, /gave up after 1s waiting for https:\/\/10\.0\.20\.99:6443\/readyz/);
        assert.equal(readFileSync(conf, "utf8"), original, "untouched");
    });

    it("--check passes on the VIP, fails elsewhere (the phase 6 gate)", () => {
        assert.equal(cluster.run(script, ["--file", conf, "--check", VIP]).status, 1);
        assert.equal(flip().status, 0);
        const run = cluster.run(script, ["--file", conf, "--check", VIP]);
        assert.equal(run.status, 0);
        assert.match(run.stdout, /server https:\/\/10\.0\.20\.99:6443/);
    });

    it("keeps the file's modification time when nothing changes", () => {
        assert.equal(flip().status, 0);
        utimesSync(conf, new Date("2024-01-01T00:00:00Z"), new Date("2024-01-01T00:00:00Z"));
        cluster.file("kubelet-started", "Tue 2024-01-02 00:00:00 UTC\n");
        assert.equal(flip().status, 0);
        assert.equal(statSync(conf).mtime.toISOString(), "2024-01-01T00:00:00.000Z");
    });
});

describe("kubeconfig-server.sh: cluster-info and kube-proxy ConfigMaps (stub kubectl)", function () {
    this.timeout(60_000);
    let cluster: FakeCluster;
    const configmaps = () => JSON.parse(readFileSync(path.join(FIXTURES, "configmaps.json"), "utf8")) as Record<string, Json>;
    const daemonsets = () => JSON.parse(readFileSync(path.join(FIXTURES, "daemonsets.json"), "utf8")) as Record<string, Json>;
    beforeEach(() => {
        cluster = new FakeCluster({ nodes: nodesFixture("all-ready"), configmaps: configmaps(), daemonsets: daemonsets() });
    });
    afterEach(() => cluster.cleanup());
    const cm = (key: string) => cluster.state().configmaps![key];
    const env = () => ({ CLUSTER_CA: cluster.file("ca.crt", "") });

    const record = (key: string) => cm("kube-system/ha-control-plane-cutover")?.data?.[key];

    /** ConfigMapCutover's flip as it ships (configMapFlipScript through remoteScript). */
    const cmStep = (configMap: string, rollDaemonSet?: string) =>
        shippedScript("ubuntu", configMapFlipScript({ configMap, ...(rollDaemonSet ? { rollDaemonSet } : {}), to: VIP, from: DIRECT, timeoutSeconds: 60 }));
    const shipped = (configMap: string, action: "create" | "delete" = "create", rollDaemonSet?: string) => runShipped(cmStep(configMap, rollDaemonSet), cluster.env(env()), { action });

    it("cluster-info: the embedded kubeconfig names the VIP, the JWS signatures and CA stay, the record is kept apart", () => {
        const run = shipped("kube-public/cluster-info");
        assert.equal(run.status, 0, run.stderr);
        const now = cm("kube-public/cluster-info");
        const before = configmaps()["kube-public/cluster-info"];
        assert.equal(parse(now.data.kubeconfig).clusters[0].cluster.server, VIP);
        assert.equal(now.data.kubeconfig, before.data.kubeconfig.replace(DIRECT, VIP));
        assert.equal(now.data["jws-kubeconfig-abcdef"], before.data["jws-kubeconfig-abcdef"]);
        assert.equal(record("kube-public.cluster-info"), `${DIRECT} ${VIP}`);
        assert.equal(now.metadata.annotations?.["ha-control-plane/pre-cutover"], undefined, "nothing of ours on kubeadm's object");
        // Idempotent, then reversible.
        const again = shipped("kube-public/cluster-info");
        assert.match(again.stdout, /already at/);
        const rv = cm("kube-public/cluster-info").metadata.resourceVersion;
        assert.equal(shipped("kube-public/cluster-info").status, 0);
        assert.equal(cm("kube-public/cluster-info").metadata.resourceVersion, rv, "no write on a second run");
        const back = shipped("kube-public/cluster-info", "delete");
        assert.equal(back.status, 0, back.stderr);
        assert.equal(cm("kube-public/cluster-info").data.kubeconfig, before.data.kubeconfig);
        assert.equal(record("kube-public.cluster-info"), undefined, "the record is dropped once restored");
    });

    it("kube-proxy: the restore still knows the old server after `kubeadm upgrade apply` re-created the ConfigMap", () => {
        assert.equal(shipped("kube-system/kube-proxy", "create", "kube-system/kube-proxy").status, 0);
        // What upgrade's addon phase does (cmd/kubeadm/app/phases/addons/proxy/proxy.go, through
        // apiclient.CreateOrUpdate): the ConfigMap rendered anew from kubeadm's template, server =
        // controlPlaneEndpoint (the VIP since phase 0), no annotation of anyone's.
        const state = cluster.state();
        const proxy = state.configmaps!["kube-system/kube-proxy"];
        proxy.metadata = { name: "kube-proxy", namespace: "kube-system", labels: { app: "kube-proxy" }, resourceVersion: "90" };
        state.daemonsets!["kube-system/kube-proxy"].spec.template.metadata.annotations = {};
        cluster.setState(state);
        const back = shipped("kube-system/kube-proxy", "delete", "kube-system/kube-proxy");
        assert.equal(back.status, 0, back.stderr);
        assert.equal(parse(cm("kube-system/kube-proxy").data["kubeconfig.conf"]).clusters[0].cluster.server, DIRECT);
        assert.equal(record("kube-system.kube-proxy"), undefined);
    });

    it("a record an earlier version left as an annotation is still restored, and dropped", () => {
        const state = cluster.state();
        const info = state.configmaps!["kube-public/cluster-info"];
        info.data.kubeconfig = info.data.kubeconfig.replace(DIRECT, VIP);
        info.metadata.annotations = { "ha-control-plane/pre-cutover": `${DIRECT} ${VIP}` };
        cluster.setState(state);
        const back = shipped("kube-public/cluster-info", "delete");
        assert.equal(back.status, 0, back.stderr);
        assert.equal(parse(cm("kube-public/cluster-info").data.kubeconfig).clusters[0].cluster.server, DIRECT);
        assert.equal(cm("kube-public/cluster-info").metadata.annotations["ha-control-plane/pre-cutover"], undefined);
    });

    it("kube-proxy: flips kubeconfig.conf, rolls the DaemonSet once, and rolls it back on restore", () => {
        const proxyStep = (action: "create" | "delete" = "create") => shipped("kube-system/kube-proxy", action, "kube-system/kube-proxy");
        let run = proxyStep();
        assert.equal(run.status, 0, run.stderr);
        const proxy = cm("kube-system/kube-proxy");
        assert.equal(parse(proxy.data["kubeconfig.conf"]).clusters[0].cluster.server, VIP);
        assert.equal(proxy.data["config.conf"], configmaps()["kube-system/kube-proxy"].data["config.conf"]);
        const ds = () => cluster.state().daemonsets!["kube-system/kube-proxy"];
        assert.equal(ds().rolls, 1);
        assert.equal(ds().spec.template.metadata.annotations["ha-control-plane/kubeconfig-server"], VIP);
        run = proxyStep();
        assert.equal(ds().rolls, 1, "not rolled again");
        assert.ok(cluster.log().some((l) => /rollout status daemonset\/kube-proxy/.test(l)));
        run = proxyStep("delete");
        assert.equal(run.status, 0, run.stderr);
        assert.equal(parse(cm("kube-system/kube-proxy").data["kubeconfig.conf"]).clusters[0].cluster.server, DIRECT);
        assert.equal(ds().rolls, 2);
        assert.equal(ds().spec.template.metadata.annotations["ha-control-plane/kubeconfig-server"], DIRECT);
    });

    it("--check on a ConfigMap (the phase 6 gate)", () => {
        const run = cluster.run(script, ["--configmap", "kube-public/cluster-info", "--check", VIP]);
        assert.equal(run.status, 1);
        assert.match(run.stderr, /configmap kube-public\/cluster-info points at https:\/\/10\.0\.20\.100:6443, not https:\/\/10\.0\.20\.99:6443/);
    });

    it("rejects bad usage with exit 2", () => {
        assert.equal(cluster.run(script, ["--configmap", "kube-public/cluster-info", "--to", "http://x:1", "--from", DIRECT]).status, 2);
        assert.equal(cluster.run(script, ["--file", "/x", "--configmap", "a/b", "--check", VIP]).status, 2);
        assert.equal(cluster.run(script, ["--file", "/x", "--to", VIP]).status, 2);
    });
});
