import { strict as assert } from "assert";
import { mkdtempSync, rmSync, writeFileSync } from "fs";
import { tmpdir } from "os";
import * as path from "path";
import { phaseOnePool, memberServer } from "../../components/loadBalancer/shared";
import { KUBEADM_DOCS_HEALTH_CHECK_TIMINGS, loadTopology, renderHaproxyFragment, renderHaproxyServerLine, apiserverPool } from "@ha-control-plane/topology";
import { testGlobal } from "../fixtures/loadBalancer/haproxyProcess";
import { labConfig } from "../helpers/program";
import { run, scriptPath } from "./scriptRunner";
import { readProjectFile } from "../../components/projectFiles";

describe("load balancer and DNS scripts", () => {
    it("are shellcheck clean", async () => {
        const res = await run("shellcheck", ["--severity=style", scriptPath("haproxy/apiserver-lb.sh"), scriptPath("dns/vip-record.sh")]);
        assert.equal(res.code, 0, res.stdout + res.stderr);
    });

    it("render a haproxy.cfg for the lab that passes haproxy -c (Debian's haproxy)", async () => {
        const stack = labConfig("3");
        const topology = loadTopology(stack.raw, { project: stack.project, stack: stack.stack, readProjectFile });
        const pool = phaseOnePool(topology);
        const dir = mkdtempSync(path.join(tmpdir(), "haproxy-c-"));
        try {
            const members = topology.newMasters.map((m) => renderHaproxyServerLine(pool, memberServer(topology, m)));
            const cfg = path.join(dir, "haproxy.cfg");
            writeFileSync(cfg, `${testGlobal(dir)}\n${renderHaproxyFragment(pool)}${members.join("\n")}\n`);
            const res = await run("haproxy", ["-c", "-f", cfg]);
            assert.equal(res.code, 0, res.stdout + res.stderr);
            assert.match(res.stdout, /Configuration file is valid/);
            // The baseline's timings render valid too (the benchmark runs both).
            writeFileSync(cfg, `${testGlobal(dir)}\n${renderHaproxyFragment(apiserverPool(topology.cluster, pool.backend.servers, { healthCheck: KUBEADM_DOCS_HEALTH_CHECK_TIMINGS }))}`);
            assert.equal((await run("haproxy", ["-c", "-f", cfg])).code, 0);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });
});
