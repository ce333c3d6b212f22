-- neumelt results store, schema version 1 (a19e6d2)
CREATE TABLE runs (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    kind TEXT NOT NULL,
    name TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL,
    config TEXT NOT NULL,
    config_hash TEXT NOT NULL,
    started_at TEXT NOT NULL,
    ended_at TEXT,
    host TEXT NOT NULL,
    version TEXT NOT NULL,
    error TEXT,
    info TEXT NOT NULL DEFAULT '{}',
    parent_id INTEGER REFERENCES runs(id)
);
CREATE INDEX runs_hash ON runs(config_hash);
CREATE TABLE metrics (
    run_id INTEGER NOT NULL REFERENCES runs(id),
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL,
    unit TEXT NOT NULL,
    provenance TEXT NOT NULL,
    source TEXT NOT NULL,
    PRIMARY KEY (run_id, scope, name)
);
CREATE TABLE records (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    tbl TEXT NOT NULL,
    key TEXT NOT NULL,
    data TEXT NOT NULL
);
CREATE INDEX records_run ON records(run_id, tbl);
CREATE TABLE samples (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    source TEXT NOT NULL,
    name TEXT NOT NULL,
    t_host_s REAL NOT NULL,
    t_device_s REAL,
    value REAL,
    unit TEXT NOT NULL
);
CREATE INDEX samples_run ON samples(run_id, source, name);
CREATE TABLE events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    run_id INTEGER NOT NULL REFERENCES runs(id),
    track TEXT NOT NULL,
    name TEXT NOT NULL,
    t_start_s REAL NOT NULL,
    dur_s REAL,
    data TEXT
);
CREATE INDEX events_run ON events(run_id);
PRAGMA user_version = 1;

INSERT INTO runs VALUES (1, 'sim', 'ref', 'done', '{"design": "neupims"}', 'h1',
    '2025-01-02T03:04:05.000+00:00', '2025-01-02T03:04:06.000+00:00', 'oldhost', '0.1.0',
    NULL, '{"sim": {"design": "neupims"}}', NULL);
INSERT INTO metrics VALUES (1, 'run', 'throughput', 1500.0, 'tokens/s', 'simulated', 'neupims/command');
INSERT INTO metrics VALUES (1, 'run', 'energy', NULL, 'J', 'measured', 'rapl');
INSERT INTO records(run_id, tbl, key, data) VALUES (1, 'stage', 'A', '{"cycles": 87268}');
INSERT INTO samples(run_id, source, name, t_host_s, t_device_s, value, unit)
    VALUES (1, 'cpu', 'util', 0.5, NULL, 0.25, '%');
INSERT INTO events(run_id, track, name, t_start_s, dur_s, data)
    VALUES (1, 'npu', 'qkv', 0.0, 0.1, '{"ch": 3}');

INSERT INTO runs VALUES (2, 'sweep', 'grid', 'done', '{"spec": {}}', 'h2',
    '2025-01-03T00:00:00.000+00:00', '2025-01-03T00:01:00.000+00:00', 'oldhost', '0.1.0',
    NULL, '{}', NULL);
INSERT INTO records(run_id, tbl, key, data) VALUES (2, 'point', 'p1', '{"status": "error"}');
INSERT INTO records(run_id, tbl, key, data) VALUES (2, 'point', 'p2', '{"status": "ok"}');
INSERT INTO records(run_id, tbl, key, data) VALUES (2, 'point', 'p1', '{"status": "ok"}');

INSERT INTO runs VALUES (3, 'profile', '', 'running', '{"device": "local"}', 'h3',
    '2020-06-01T00:00:00.000+00:00', NULL, 'oldhost', '0.1.0', NULL, '{}', NULL);
INSERT INTO records(run_id, tbl, key, data) VALUES (3, 'calls', 'r0/t0/c1', '{"t_start_s": 1.0}');
