'use strict';
// The last hour of every object, sampled by the console itself: queue's
// counters (mq_stats) are totals since the server started, so rates are
// differences between two samples, and depths, ages and lags are kept as
// they were read.  The history starts when the console does and lives in
// its memory only.

const HOUR = 3600;

class History {
  constructor({ keepSeconds = HOUR, staleAfter = 60 } = {}) {
    this.keepSeconds = keepSeconds;
    this.staleAfter = staleAfter;	// seconds: a ready message older than this, still growing, is a problem
    this.samples = [];				// { t (s), snap, index: the snap's objects by name }
  }

  add(snap, t = Date.now() / 1000) {
    const index = {
      queues: new Map(snap.queues.map((o) => [o.name, o])),
      streams: new Map(snap.streams.map((o) => [o.name, o])),
    };
    this.samples.push({ t, snap, index });
    this.cached = null;
    while (this.samples.length > 2 && this.samples[0].t < t - this.keepSeconds) this.samples.shift();
  }

  latest() {
    return this.samples.length ? this.samples[this.samples.length - 1] : null;
  }

  // [ {t, value} ] of one object's field over the kept samples: of the
  // object of that name now (one dropped and created again starts afresh).
  series(kind, name, pick) {
    const latest = this.latest();
    const now = latest && latest.index[kind].get(name);
    const out = [];
    for (const s of this.samples) {
      const o = s.index[kind].get(name);
      if (o && (!now || String(o.created_at) === String(now.created_at))) out.push({ t: s.t, v: pick(o) });
    }
    return out;
  }

  // Per-second rates of a counter between consecutive samples (a counter
  // that went down was reset: that interval counts from zero).
  static rates(points) {
    const out = [];
    for (let i = 1; i < points.length; i++) {
      const a = points[i - 1];
      const b = points[i];
      const dt = b.t - a.t;
      if (dt <= 0 || b.v === null || a.v === null) continue;
      const d = b.v >= a.v ? b.v - a.v : b.v;
      out.push({ t: b.t, v: d / dt });
    }
    return out;
  }

  // Points averaged into n buckets over the kept hour, oldest first (a
  // bucket without a point repeats nothing: it is null).
  bucket(points, n = 60, now = Date.now() / 1000) {
    const width = this.keepSeconds / n;
    const sums = new Array(n).fill(0);
    const counts = new Array(n).fill(0);
    for (const p of points) {
      const i = Math.floor((p.t - (now - this.keepSeconds)) / width);
      if (i < 0 || i >= n || p.v === null) continue;
      sums[i] += p.v;
      counts[i]++;
    }
    return sums.map((s, i) => (counts[i] ? s / counts[i] : null));
  }

  // Whether a value has grown over the last minute of samples (the oldest
  // sample of that minute against the newest).
  growing(points, window = 60) {
    if (points.length < 2) return false;
    const last = points[points.length - 1];
    let first = null;
    for (const p of points) {
      if (p.t >= last.t - window && p.v !== null) {
        first = p;
        break;
      }
    }
    return first !== null && first !== last && last.v > first.v;
  }

  latestRate(points) {
    const r = History.rates(points.slice(-2));
    return r.length ? r[r.length - 1].v : null;
  }

  // The overview: the latest sample with rates, sparklines and problems,
  // problems first.
  overview(now = Date.now() / 1000) {
    if (this.cached && now - this.cached.now < 1) return this.cached.result;
    const result = this.computeOverview(now);
    this.cached = { now, result };
    return result;
  }

  computeOverview(now) {
    const latest = this.latest();
    if (!latest) return { at: null, queues: [], topics: [], streams: [] };
    const snap = latest.snap;
    const dlqs = new Set(snap.queues.map((q) => q.dead_letter_queue).filter(Boolean));
    const depthOf = new Map(snap.queues.map((q) => [q.name, q.depth]));
    const queues = snap.queues.map((q) => {
      const counter = (c) => this.series('queues', q.name, (o) => o.counters[c]);
      const sent = counter('sent');
      const acked = counter('acked');
      const dead = counter('dead_lettered');
      const ages = this.series('queues', q.name, (o) => o.oldest_ready_age);
      const problems = [];
      if (dlqs.has(q.name) && q.depth > 0) problems.push(`${q.depth} dead letter${q.depth === 1 ? '' : 's'}`);
      if (q.oldest_ready_age !== null && q.oldest_ready_age >= this.staleAfter && this.growing(ages)) {
        problems.push(`oldest ready message ${Math.round(q.oldest_ready_age)} s old and growing`);
      }
      if (q.dead_letter_queue && depthOf.get(q.dead_letter_queue) > 0) {
        problems.push(`dead-letter queue ${q.dead_letter_queue} holds ${depthOf.get(q.dead_letter_queue)}`);
      }
      return {
        ...q,
        is_dead_letter_queue: dlqs.has(q.name),
        dead_letter_depth: q.dead_letter_queue ? depthOf.get(q.dead_letter_queue) ?? null : null,
        rates: { sent: this.latestRate(sent), acked: this.latestRate(acked), dead_lettered: this.latestRate(dead) },
        spark: {
          sent: this.bucket(History.rates(sent), 60, now),
          acked: this.bucket(History.rates(acked), 60, now),
          dead_lettered: this.bucket(History.rates(dead), 60, now),
        },
        problems,
      };
    });
    const streams = snap.streams.map((s) => {
      const appended = this.series('streams', s.name, (o) => o.counters.appended);
      const problems = [];
      const groups = s.groups.map((g) => {
        const lags = this.series('streams', s.name, (o) => {
          const x = o.groups.find((y) => y.name === g.name);
          return x ? x.lag : null;
        });
        const growing = g.lag > 0 && this.growing(lags);
        if (growing) problems.push(`group ${g.name} lags ${g.lag} and falling behind`);
        return { ...g, lag_growing: growing };
      });
      return {
        ...s,
        groups,
        rates: { appended: this.latestRate(appended) },
        spark: { appended: this.bucket(History.rates(appended), 60, now) },
        problems,
      };
    });
    const byProblems = (a, b) => (b.problems.length > 0) - (a.problems.length > 0) || (a.name < b.name ? -1 : 1);
    queues.sort(byProblems);
    streams.sort(byProblems);
    return { at: new Date(latest.t * 1000).toISOString(), queues, topics: snap.topics, streams };
  }

  // A queue's full-resolution hour: [t, depth, ready, inflight, delayed,
  // oldest ready age, sent/s, acked/s, dead-lettered/s].
  queueSeries(name) {
    const pts = this.series('queues', name, (o) => o);
    const rate = (c) => new Map(History.rates(pts.map((p) => ({ t: p.t, v: p.v.counters[c] })))
      .map((r) => [r.t, r.v]));
    const sent = rate('sent');
    const acked = rate('acked');
    const dead = rate('dead_lettered');
    return pts.map((p) => [p.t, p.v.depth, p.v.ready, p.v.inflight, p.v.delayed, p.v.oldest_ready_age,
      sent.get(p.t) ?? null, acked.get(p.t) ?? null, dead.get(p.t) ?? null]);
  }

  // A stream's groups' lag per partition over the hour:
  // { group: { partitions: [p...], points: [[t, lag p0, lag p1, ...]] } }.
  groupSeries(name) {
    const out = {};
    for (const { t, v: st } of this.series('streams', name, (o) => o)) {
      for (const g of st.groups) {
        if (!out[g.name]) out[g.name] = { partitions: g.partitions.map((p) => p.partition), points: [] };
        const e = out[g.name];
        e.points.push([t, ...e.partitions.map((p) => {
          const x = g.partitions.find((y) => y.partition === p);
          return x ? x.lag : null;
        })]);
      }
    }
    return out;
  }
}

module.exports = { History };
