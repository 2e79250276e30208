-- How the next-task query scales with a study's size (PostgreSQL).
--
-- Run after bench/load_raters.py, which leaves its study (id 1, 1,680 units) in
-- editbench_bench; this grows the study to about 52,000 units (copies of its units with
-- random counters and keys), then times the sort-by-random() query the assignment used to run
-- against the statement it runs now (the emptiest level as a subquery, then the first unlocked
-- unit of that level from a random key, both index scans):
--
--     psql -h 127.0.0.1 -U postgres editbench_bench -v copies=30 -f bench/pick_scaling.sql
--
-- Each EXPLAIN ANALYZE runs inside a rolled-back transaction (the pick takes a row lock).

INSERT INTO annotation_studyunit (kind, prompt_type, questions, is_gold, gold_answer,
    created_at, edit_a_id, edit_b_id, study_id, slots_taken, shuffle)
SELECT u.kind, u.prompt_type, u.questions, u.is_gold, u.gold_answer, u.created_at, u.edit_a_id,
    u.edit_b_id, u.study_id, (random() * 2)::int, floor(random() * 2147483647)::int
FROM annotation_studyunit u, generate_series(1, :copies) g
WHERE u.study_id = 1 AND NOT u.is_gold;
ANALYZE annotation_studyunit;
SELECT count(*) AS units_in_study FROM annotation_studyunit WHERE study_id = 1;

\echo 'before: the emptiest units by sorting every open unit on random()'
BEGIN;
EXPLAIN (ANALYZE, COSTS OFF)
SELECT id, kind, slots_taken FROM annotation_studyunit
WHERE NOT is_gold AND study_id = 1 AND slots_taken < 3
  AND id NOT IN (SELECT unit_id FROM annotation_assignment WHERE rater_id = 1 AND study_id = 1)
ORDER BY slots_taken, random() LIMIT 1 FOR UPDATE SKIP LOCKED;
ROLLBACK;

\echo 'now: the first unlocked unit of the emptiest level from a random key, one statement'
BEGIN;
EXPLAIN (ANALYZE, COSTS OFF)
SELECT id, kind, slots_taken FROM annotation_studyunit
WHERE NOT is_gold AND study_id = 1 AND slots_taken < 3
  AND id NOT IN (SELECT unit_id FROM annotation_assignment WHERE rater_id = 1 AND study_id = 1)
  AND slots_taken = (
    SELECT v.slots_taken FROM annotation_studyunit v
    WHERE NOT v.is_gold AND v.study_id = 1 AND v.slots_taken < 3
      AND v.id NOT IN (SELECT unit_id FROM annotation_assignment WHERE rater_id = 1 AND study_id = 1)
    ORDER BY v.slots_taken LIMIT 1)
  AND shuffle >= 1000000000
ORDER BY shuffle LIMIT 1 FOR UPDATE SKIP LOCKED;
ROLLBACK;
