/**
 * STAND-IN for `kubeadm join --control-plane` on a master that was reset: no kubelet runs here,
 * so kubeadm's kubelet-start phase (the TLS bootstrap, waiting for the kubelet to register) and
 * the discovery that needs kube-controller-manager's signature on cluster-info cannot run. What
 * the join does on the node is done instead, with real kubeadm and etcdctl where kubeadm does it:
 *   - download-certs: the cluster-wide CAs and the service-account key pair from a member (what
 *     kubeadm fetches from the kubeadm-certs Secret);
 *   - `kubeadm init phase certs all`, `kubeconfig all`, `control-plane apiserver`, `etcd local`
 *     with the node's InitConfiguration and the ClusterConfiguration the cluster's kubeadm-config
 *     holds (join reads it from there, etcd.local.dataDir included);
 *   - etcd as kubeadm 1.34 joins it: added as a learner through a member, its manifest's
 *     --initial-cluster naming the members and --initial-cluster-state=existing, promoted once
 *     it has caught up;
 *   - the Node object registered, Ready, as its kubelet would.
 */
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from "fs";
import * as path from "path";
import { parse, stringify } from "yaml";
import { pins } from "../../../toolchain";
import { APISERVER_PORT, ControlPlane, Master } from "./controlPlane";
import { waitFor } from "./processes";
import { registerNodes } from "./standIns";

type Json = Record<string, any>;

/** What kubeadm-certs carries (kubeadm's copyCertsToSecret list, the stacked-etcd part). */
const SHARED_CERTIFICATES = ["ca.crt", "ca.key", "sa.key", "sa.pub", "front-proxy-ca.crt", "front-proxy-ca.key", "etcd/ca.crt", "etcd/ca.key"];

export async function standInControlPlaneJoin(cp: ControlPlane, master: Master, via: Master): Promise<void> {
    for (const f of SHARED_CERTIFICATES) {
        const target = path.join(master.host.kubernetesDir, "pki", f);
        mkdirSync(path.dirname(target), { recursive: true });
        copyFileSync(path.join(via.host.kubernetesDir, "pki", f), target);
    }
    const cm = await cp.kubectlJson(["-n", "kube-system", "get", "configmap", "kubeadm-config"]);
    const cc = parse(cm.data.ClusterConfiguration) as Json;
    const init = {
        apiVersion: cc.apiVersion,
        kind: "InitConfiguration",
        localAPIEndpoint: { advertiseAddress: master.ip, bindPort: APISERVER_PORT },
        nodeRegistration: { name: master.name, criSocket: "unix:///var/run/containerd/containerd.sock" },
    };
    const config = path.join(master.host.dir, "kubeadm-join-config.yaml");
    writeFileSync(config, `${stringify(init)}---\n${cm.data.ClusterConfiguration}`);
    for (const phase of [["certs", "all"], ["kubeconfig", "all"], ["control-plane", "apiserver"]]) {
        await cp.kubeadmOk(master, ["init", "phase", ...phase, "--config", config]);
    }

    const peer = `https://${master.ip}:2380`;
    const added = await cp.etcdctl(via, ["member", "add", master.name, `--peer-urls=${peer}`, "--learner"]);
    if (added.code !== 0) throw new Error(`etcdctl member add ${master.name}: ${added.stderr}`);
    // etcdctl prints the id with %16x: an id below 2^60 comes space-padded ("Member  aec5…").
    const id = /Member +([0-9a-f]+) added/.exec(added.stdout)?.[1];
    if (!id) throw new Error(`etcdctl member add printed no member id: ${added.stdout}`);
    const initialCluster = /ETCD_INITIAL_CLUSTER="([^"]+)"/.exec(added.stdout)?.[1];
    if (!initialCluster) throw new Error(`etcdctl member add printed no ETCD_INITIAL_CLUSTER: ${added.stdout}`);

    // Written outside the manifests directory first: the kubelet must see only the final file.
    const staging = path.join(master.host.dir, "etcd-join-manifests");
    mkdirSync(staging, { recursive: true });
    await cp.kubeadmOk(master, ["init", "phase", "etcd", "local", "--config", config, "--dry-run"], { env: { KUBEADM_INIT_DRYRUN_DIR: staging } });
    const manifest = readFileSync(path.join(staging, "etcd.yaml"), "utf8").replace(/^(\s*- )--initial-cluster=\S+$/m, (_, item: string) => `${item}--initial-cluster=${initialCluster}\n${item}--initial-cluster-state=existing`);
    if (!manifest.includes("--initial-cluster-state=existing")) throw new Error("kubeadm's etcd manifest has no --initial-cluster line to join with");
    writeFileSync(path.join(master.host.kubernetesDir, "manifests", "etcd.yaml"), manifest);

    await waitFor(`${master.name}'s etcd learner promoted`, 120_000, async () => ((await cp.etcdctl(via, ["member", "promote", id])).code === 0 ? true : undefined), 1000);
    await registerNodes(cp, [{ name: master.name, ip: master.ip, controlPlane: true }], pins.kubernetes);
    await cp.waitReady(master);
}
