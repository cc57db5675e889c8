/**
 * A client load on a kube-apiserver endpoint, run as its own process inside the test network
 * (bench/apiserver.bench.ts starts it in the lan namespace):
 *   - request loops listing a namespace's ConfigMaps, half over HTTP/2 (what client-go speaks:
 *     one connection, a new one after the server's GOAWAY, an unprocessed stream re-sent as Go's
 *     transport does) and half over HTTP/1.1 keep-alive (one connection per loop, reopened when
 *     the server closes it);
 *   - a writer patching one ConfigMap every `writeEveryMs` (HTTP/2);
 *   - a watch on that ConfigMap (HTTP/2) that resumes from its last resourceVersion when the
 *     stream ends, as client-go's reflector does.
 * Every request is counted as it happens, with no retry of our own; a failed one is marked
 * `retryable` when client-go would have retried it by itself (a 429 or 503 with Retry-After,
 * any verb; a GET that met a reset or EOF).
 * Bounded: each request times out after 10 s; the run ends on SIGTERM (or after maxMs) and
 * writes its record as JSON to the results file.
 *
 *   node -r tsx/cjs bench/apiserverLoad.ts CONFIG.json
 * CONFIG: { host, port, ca, cert, key, namespace, configMap, loops, pauseMs, writeEveryMs, results, maxMs }
 */
import { readFileSync, writeFileSync } from "fs";
import * as http2 from "http2";
import * as https from "https";

export interface LoadConfig {
    readonly host: string;
    readonly port: number;
    /** PEM files: the cluster CA and a client certificate pair. */
    readonly ca: string;
    readonly cert: string;
    readonly key: string;
    readonly namespace: string;
    readonly configMap: string;
    /** Request loops per protocol. */
    readonly loops: number;
    readonly pauseMs: number;
    readonly writeEveryMs: number;
    readonly results: string;
    readonly maxMs: number;
}

export type Protocol = "h2" | "h1";

export interface RequestRecord {
    /** Wall-clock ms (Date.now), so the bench can line them up with its restarts. */
    readonly start: number;
    readonly end: number;
    readonly loop: string;
    readonly protocol: Protocol;
    readonly ok: boolean;
    readonly status?: number;
    readonly error?: string;
    /** client-go would have retried it by itself. */
    readonly retryable: boolean;
    /** An HTTP/2 stream the server refused unprocessed (GOAWAY), re-sent on a new connection. */
    readonly resent?: boolean;
}

export interface WatchRecord {
    /** Arrival times (Date.now) of every ADDED/MODIFIED event the watch delivered. */
    readonly events: number[];
    /** When a stream ended or failed, and why. */
    readonly breaks: { at: number; why: string }[];
}

export interface LoadRecord {
    readonly requests: RequestRecord[];
    readonly watch: WatchRecord;
}

interface Answer {
    readonly status?: number;
    readonly retryAfter: boolean;
    readonly body: string;
    readonly error?: string;
    readonly resent?: boolean;
}

interface Tls {
    readonly ca: Buffer;
    readonly cert: Buffer;
    readonly key: Buffer;
}

function retryable(method: string, a: Answer): boolean {
    if (a.status !== undefined) return a.retryAfter && (a.status === 429 || a.status === 503);
    return method === "GET" && /ECONNRESET|socket hang up|EOF|EPIPE|GOAWAY|session/i.test(a.error ?? "");
}

interface Client {
    request(method: string, path: string, body?: string): Promise<Answer>;
    /** A streaming GET; resolves with why the stream ended. */
    stream(path: string, onLine: (line: string) => void): Promise<string>;
    close(): void;
}

/** HTTP/1.1 with one keep-alive connection. */
class Http1Client implements Client {
    private readonly agent: https.Agent;
    constructor(private readonly host: string, private readonly port: number, tls: Tls) {
        this.agent = new https.Agent({ keepAlive: true, maxSockets: 1, ...tls, servername: "kubernetes" });
    }

    request(method: string, path: string, body?: string): Promise<Answer> {
        return new Promise((resolve) => {
            const req = https.request(
                { host: this.host, port: this.port, method, path, agent: this.agent, timeout: 10_000, headers: { Accept: "application/json", ...(body ? { "Content-Type": "application/merge-patch+json" } : {}) } },
                (res) => {
                    let text = "";
                    res.on("data", (d) => (text += d));
                    res.on("end", () => resolve({ status: res.statusCode, retryAfter: res.headers["retry-after"] !== undefined, body: text }));
                    res.on("error", (e) => resolve({ retryAfter: false, body: "", error: e.message }));
                },
            );
            req.on("timeout", () => req.destroy(new Error("timeout after 10 s")));
            req.on("error", (e: NodeJS.ErrnoException) => resolve({ retryAfter: false, body: "", error: e.code ?? e.message }));
            req.end(body);
        });
    }

    stream(path: string, onLine: (line: string) => void): Promise<string> {
        return new Promise((resolve) => {
            const req = https.request({ host: this.host, port: this.port, method: "GET", path, agent: this.agent, headers: { Accept: "application/json" } }, (res) => {
                lines(res, onLine);
                res.on("end", () => resolve(res.statusCode === 200 ? "stream ended" : `status ${res.statusCode}`));
                res.on("error", (e) => resolve(e.message));
            });
            req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
            req.end();
        });
    }

    close(): void {
        this.agent.destroy();
    }
}

function lines(stream: NodeJS.ReadableStream, onLine: (line: string) => void): void {
    let buffer = "";
    stream.on("data", (d: Buffer | string) => {
        buffer += d;
        let nl: number;
        while ((nl = buffer.indexOf("\n")) >= 0) {
            onLine(buffer.slice(0, nl));
            buffer = buffer.slice(nl + 1);
        }
    });
}

/** HTTP/2 with one connection at a time, like Go's transport: a GOAWAY sends new streams to a new connection. */
class Http2Client implements Client {
    private session: http2.ClientHttp2Session | undefined;
    constructor(private readonly host: string, private readonly port: number, private readonly tls: Tls) {}

    private current(): http2.ClientHttp2Session {
        if (!this.session || this.session.closed || this.session.destroyed) {
            const s = http2.connect(`https://${this.host}:${this.port}`, { ...this.tls, servername: "kubernetes" });
            s.on("goaway", () => {
                if (this.session === s) this.session = undefined;
            });
            s.on("close", () => {
                if (this.session === s) this.session = undefined;
            });
            s.on("error", () => {
                if (this.session === s) this.session = undefined;
            });
            this.session = s;
        }
        return this.session;
    }

    private once(method: string, path: string, body?: string): Promise<Answer & { unprocessed?: boolean }> {
        return new Promise((resolve) => {
            let req: http2.ClientHttp2Stream;
            try {
                req = this.current().request({ ":method": method, ":path": path, accept: "application/json", ...(body ? { "content-type": "application/merge-patch+json" } : {}) });
            } catch (e) {
                resolve({ retryAfter: false, body: "", error: (e as NodeJS.ErrnoException).code ?? String(e), unprocessed: true });
                return;
            }
            let status: number | undefined;
            let retryAfter = false;
            let text = "";
            req.setTimeout(10_000, () => req.close(http2.constants.NGHTTP2_CANCEL));
            req.on("response", (h) => {
                status = Number(h[":status"]);
                retryAfter = h["retry-after"] !== undefined;
            });
            req.on("data", (d) => (text += d));
            req.on("end", () => resolve(status === undefined ? { retryAfter: false, body: "", error: "stream ended without a response" } : { status, retryAfter, body: text }));
            req.on("error", (e: NodeJS.ErrnoException) => {
                const text = `${e.code} ${e.message}`;
                // A connection that could not be made: the cause is what a client sees (refused, reset).
                const cause = /caused by: (?:connect )?(E[A-Z]+)/.exec(e.message)?.[1];
                // Refused before processing (GOAWAY's last stream id below ours, a session already
                // going away): Go's transport re-sends it on a new connection.
                const unprocessed = status === undefined && !cause && /REFUSED_STREAM|GOAWAY|ERR_HTTP2_INVALID_SESSION/.test(text);
                resolve({ status, retryAfter, body: "", error: cause ?? e.code ?? e.message, unprocessed });
            });
            req.end(body);
        });
    }

    async request(method: string, path: string, body?: string): Promise<Answer> {
        const first = await this.once(method, path, body);
        if (!first.unprocessed) return first;
        this.session = undefined;
        return { ...(await this.once(method, path, body)), resent: true };
    }

    stream(path: string, onLine: (line: string) => void): Promise<string> {
        return new Promise((resolve) => {
            let req: http2.ClientHttp2Stream;
            try {
                req = this.current().request({ ":method": "GET", ":path": path, accept: "application/json" });
            } catch (e) {
                resolve(String(e));
                return;
            }
            let status = 0;
            req.on("response", (h) => (status = Number(h[":status"])));
            lines(req, onLine);
            req.on("end", () => resolve(status === 200 ? "stream ended" : `status ${status}`));
            req.on("error", (e: NodeJS.ErrnoException) => resolve(e.code ?? e.message));
            req.end();
        });
    }

    close(): void {
        this.session?.close();
    }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function runLoad(cfg: LoadConfig, stopped: () => boolean): Promise<LoadRecord> {
    const tls: Tls = { ca: readFileSync(cfg.ca), cert: readFileSync(cfg.cert), key: readFileSync(cfg.key) };
    const client = (p: Protocol): Client => (p === "h2" ? new Http2Client(cfg.host, cfg.port, tls) : new Http1Client(cfg.host, cfg.port, tls));
    const requests: RequestRecord[] = [];
    const watch: WatchRecord = { events: [], breaks: [] };
    const cmPath = `/api/v1/namespaces/${cfg.namespace}/configmaps`;

    const timed = async (c: Client, protocol: Protocol, loop: string, method: string, path: string, body?: string) => {
        const start = Date.now();
        const a = await c.request(method, path, body);
        const ok = a.status !== undefined && a.status >= 200 && a.status < 300;
        requests.push({
            start,
            end: Date.now(),
            loop,
            protocol,
            ok,
            ...(a.status !== undefined ? { status: a.status } : {}),
            ...(a.error ? { error: a.error } : {}),
            ...(a.resent ? { resent: true } : {}),
            retryable: !ok && retryable(method, a),
        });
    };

    const readers = (["h2", "h1"] as const).flatMap((protocol) =>
        Array.from({ length: cfg.loops }, async (_, i) => {
            const c = client(protocol);
            while (!stopped()) {
                await timed(c, protocol, `read-${protocol}-${i}`, "GET", `${cmPath}?limit=20`);
                await sleep(cfg.pauseMs);
            }
            c.close();
        }),
    );

    const writer = (async () => {
        const c = client("h2");
        let n = 0;
        while (!stopped()) {
            const t0 = Date.now();
            await timed(c, "h2", "write", "PATCH", `${cmPath}/${cfg.configMap}`, JSON.stringify({ data: { n: String(n++) } }));
            await sleep(Math.max(0, cfg.writeEveryMs - (Date.now() - t0)));
        }
        c.close();
    })();

    const watcher = (async () => {
        const c = client("h2");
        let rv = "";
        while (!stopped()) {
            if (!rv) {
                const list = await c.request("GET", `${cmPath}?fieldSelector=metadata.name%3D${cfg.configMap}`);
                if (list.status !== 200) {
                    watch.breaks.push({ at: Date.now(), why: `list: ${list.status ?? list.error}` });
                    await sleep(200);
                    continue;
                }
                rv = (JSON.parse(list.body) as { metadata: { resourceVersion: string } }).metadata.resourceVersion;
            }
            const why = await c.stream(`${cmPath}?watch=1&allowWatchBookmarks=true&fieldSelector=metadata.name%3D${cfg.configMap}&resourceVersion=${rv}&timeoutSeconds=300`, (line) => {
                try {
                    const ev = JSON.parse(line) as { type: string; object: { metadata: { resourceVersion: string } } };
                    if (ev.type === "ERROR") {
                        rv = ""; // too old: list again
                        return;
                    }
                    rv = ev.object.metadata.resourceVersion;
                    if (ev.type === "ADDED" || ev.type === "MODIFIED") watch.events.push(Date.now());
                } catch {
                    // a line cut at a disconnect: the next watch resumes from rv
                }
            });
            if (stopped()) break;
            watch.breaks.push({ at: Date.now(), why });
            // client-go's reflector backs off a little before it watches again.
            await sleep(100);
        }
        c.close();
    })();

    await Promise.all([...readers, writer]);
    await Promise.race([watcher, sleep(2000)]);
    return { requests, watch };
}

if (require.main === module) {
    const cfg = JSON.parse(readFileSync(process.argv[2], "utf8")) as LoadConfig;
    let stop = false;
    const started = Date.now();
    process.on("SIGTERM", () => (stop = true));
    const timer = setInterval(() => {
        if (Date.now() - started > cfg.maxMs) stop = true;
    }, 500);
    runLoad(cfg, () => stop).then(
        (record) => {
            clearInterval(timer);
            writeFileSync(cfg.results, JSON.stringify(record));
            process.exit(0);
        },
        (err: Error) => {
            process.stderr.write(`load failed: ${err.stack}\n`);
            process.exit(1);
        },
    );
}
