-- A world with users and everything that hangs off them, for the
-- retention tests (psql -v w=ID -v n=USERS -v e=EVENTS -f this): ids are
-- md5-derived, so a test can name them: user i of world w is
-- md5(w || '/u/' || i)::uuid (n >= 3), its stored avatar file md5(w || '/f/' || i).
-- User 1 is in DM channel 1 with user 2 (whose user is deleted already,
-- so 1 is its last member) and in DM channel 2 with user 3 (alive).
\set ON_ERROR_STOP 1
BEGIN;
CREATE TEMP TABLE p AS SELECT :'w'::text AS w, :n::int AS n, :e::int AS e;
CREATE FUNCTION pg_temp.id(k text) RETURNS uuid LANGUAGE sql AS
  $$ SELECT md5((SELECT w FROM p) || '/' || k)::uuid $$;
INSERT INTO core_world (id, title, config, domain, roles, trait_grants, version, locale,
  timezone, feature_flags, external_auth_url, vapid_private_key, vapid_public_key)
SELECT w, 'World ' || w, '{}', w || '.example.org', '{}', '{}', 2, 'en', 'UTC', '[]', NULL,
  'k', 'k' FROM p;
INSERT INTO core_room (id, module_config, name, description, picture, import_id, world_id,
  sorting_priority, trait_grants, version, deleted, pretalx_id, force_join, schedule_data)
SELECT pg_temp.id('r/' || i), '[]', 'Room ' || i, NULL, '', NULL, w, i, '{}', 2, false, 0, false,
  NULL FROM p, generate_series(1, 3) i;
INSERT INTO core_channel (id, name, room_id, world_id)
SELECT pg_temp.id('c/' || i), NULL, pg_temp.id('r/' || i), w FROM p, generate_series(1, 3) i
UNION ALL SELECT pg_temp.id('dm/' || i), NULL, NULL, w FROM p, generate_series(1, 2) i;
INSERT INTO core_user (id, client_id, token_id, profile, traits, world_id, version,
  moderation_state, show_publicly, last_login, pretalx_id, deleted, social_login_id_linkedin,
  social_login_id_twitter, client_state, type)
SELECT pg_temp.id('u/' || i), 'client' || i, 'token' || i,
  jsonb_build_object('display_name', 'User ' || i, 'avatar', jsonb_build_object('url',
    CASE WHEN i % 2 = 1 THEN 'https://cdn.example/media/pub/' || w || '/' || pg_temp.id('f/' || i) || '.png'
    ELSE 'https://www.gravatar.com/avatar/abc.jpg' END)),
  '{}', w, 2, '', true, now() - interval '400 days', NULL, i = 2, NULL, NULL, '{}', 'person'
FROM p, generate_series(1, (SELECT n FROM p)) i;
INSERT INTO storage_storedfile (id, expires, date, filename, type, file, public, user_id,
  world_id, source_url)
SELECT pg_temp.id('f/' || i), NULL, now(), i || '.png', 'image/png',
  'pub/' || w || '/' || pg_temp.id('f/' || i) || '.png', true, pg_temp.id('u/' || i), w, NULL
FROM p, generate_series(1, (SELECT n FROM p)) i WHERE i % 2 = 1;
-- a file user 1 sent in DM 1, another in DM 2 (kept: user 3 is alive)
INSERT INTO storage_storedfile (id, expires, date, filename, type, file, public, user_id,
  world_id, source_url)
SELECT pg_temp.id('dmf/' || i), NULL, now(), 'doc.pdf', 'application/pdf',
  'pub/' || w || '/' || pg_temp.id('dmf/' || i) || '.pdf', false, pg_temp.id('u/1'), w, NULL
FROM p, generate_series(1, 2) i;
INSERT INTO core_membership (volatile, channel_id, user_id, hidden)
SELECT false, pg_temp.id('c/' || (i % 3 + 1)), pg_temp.id('u/' || i), false
FROM p, generate_series(1, (SELECT n FROM p)) i
UNION ALL SELECT false, pg_temp.id('dm/1'), pg_temp.id('u/' || i), false FROM generate_series(1, 2) i
UNION ALL SELECT false, pg_temp.id('dm/2'), pg_temp.id('u/' || i), false FROM unnest(array[1, 3]) i;
-- events: room chat from everybody; in each DM channel a message with
-- a file and one that replaces (edits) it
INSERT INTO core_chatevent (id, "timestamp", event_type, content, channel_id, sender_id, edited,
  replaces_id)
SELECT (SELECT coalesce(max(id), 0) FROM core_chatevent) + i, now() - interval '400 days',
  'channel.message', jsonb_build_object('type', 'text', 'body', 'hello ' || i),
  pg_temp.id('c/' || (i % 3 + 1)), pg_temp.id('u/' || (i % n + 1)), NULL, NULL
FROM p, generate_series(1, (SELECT e FROM p)) i;
CREATE TEMP TABLE base AS SELECT coalesce(max(id), 0) AS b FROM core_chatevent;
INSERT INTO core_chatevent (id, "timestamp", event_type, content, channel_id, sender_id, edited,
  replaces_id)
SELECT b + i, now() - interval '400 days', 'channel.message',
  jsonb_build_object('type', 'files', 'files', jsonb_build_array(jsonb_build_object(
    'url', 'https://cdn.example/media/pub/' || w || '/' || pg_temp.id('dmf/' || i) || '.pdf',
    'mimeType', 'application/pdf'), jsonb_build_object('url', 'https://elsewhere/x/not-a-uuid.pdf'))),
  pg_temp.id('dm/' || i), pg_temp.id('u/1'), NULL, NULL FROM p, base, generate_series(1, 2) i
UNION ALL SELECT b + 2 + i, now() - interval '400 days', 'channel.message', '{"type": "text", "body": "edit"}',
  pg_temp.id('dm/' || i), pg_temp.id('u/1'), now(), b + i FROM p, base, generate_series(1, 2) i;
INSERT INTO core_chateventreaction (reaction, chat_event_id, sender_id)
SELECT '+1', id, pg_temp.id('u/1') FROM core_chatevent
WHERE channel_id IN (SELECT id FROM core_channel WHERE world_id = (SELECT w FROM p)) AND id % 7 = 0
UNION ALL SELECT '+1', b + 1, pg_temp.id('u/1') FROM base;
INSERT INTO core_chateventnotification (chat_event_id, recipient_id)
SELECT id, pg_temp.id('u/1') FROM core_chatevent
WHERE channel_id IN (SELECT id FROM core_channel WHERE world_id = (SELECT w FROM p)) AND id % 11 = 0
UNION ALL SELECT b + 1, pg_temp.id('u/2') FROM base;
INSERT INTO core_worldgrant (role, user_id, world_id)
SELECT 'attendee', pg_temp.id('u/' || i), w FROM p, generate_series(1, (SELECT n FROM p)) i;
INSERT INTO core_roomgrant (role, room_id, user_id, world_id)
SELECT 'speaker', pg_temp.id('r/1'), pg_temp.id('u/' || i), w FROM p, generate_series(1, least(5, (SELECT n FROM p))) i;
INSERT INTO core_roomview (start, "end", room_id, user_id)
SELECT now() - interval '400 days', NULL, pg_temp.id('r/' || (i % 3 + 1)), pg_temp.id('u/' || i)
FROM p, generate_series(1, (SELECT n FROM p)) i;
INSERT INTO core_worldview (start, "end", user_id, world_id)
SELECT now() - interval '400 days', NULL, pg_temp.id('u/' || i), w FROM p, generate_series(1, (SELECT n FROM p)) i;
INSERT INTO core_question (id, content, state, answered, "timestamp", moderator_id, room_id,
  sender_id, is_pinned)
SELECT pg_temp.id('q/' || i), 'why?', 'visible', false, now() - interval '400 days',
  pg_temp.id('u/2'), pg_temp.id('r/1'), pg_temp.id('u/' || ((i - 1) % n + 1)), false FROM p, generate_series(1, 5) i;
INSERT INTO core_questionvote (question_id, sender_id)
SELECT pg_temp.id('q/' || i), pg_temp.id('u/1') FROM generate_series(1, 5) i;
INSERT INTO core_poll (id, content, state, poll_type, "timestamp", is_pinned, cached_results, room_id)
SELECT pg_temp.id('poll'), 'which?', 'open', 'choice', now(), false, NULL, pg_temp.id('r/1');
INSERT INTO core_polloption (id, "order", content, poll_id)
SELECT pg_temp.id('o/' || i), i, 'option ' || i, pg_temp.id('poll') FROM generate_series(1, 2) i;
INSERT INTO core_pollvote (option_id, sender_id)
SELECT pg_temp.id('o/' || (i % 2 + 1)), pg_temp.id('u/' || ((i - 1) % n + 1)) FROM p, generate_series(1, 4) i;
INSERT INTO core_auditlog ("timestamp", type, data, user_id, world_id)
SELECT now() - interval '400 days', 'auth.user.profile.changed',
  jsonb_build_object('object', pg_temp.id('u/1')::text, 'old', '{"display_name": "x"}', 'new', '{"display_name": "y"}'),
  pg_temp.id('u/1'), w FROM p
UNION ALL SELECT now() - interval '400 days', 'world.updated', '{"old": {}, "new": {}}', pg_temp.id('u/1'), w FROM p;
INSERT INTO core_feedback (id, "timestamp", module, message, trace, world_id)
SELECT pg_temp.id('fb'), now(), 'chat', 'broken', '', w FROM p;
INSERT INTO core_bbbserver (id, active, url, secret, rooms_only, world_exclusive_id, cost)
SELECT pg_temp.id('bbbs'), true, 'https://bbb.example/', 's', false, NULL, 0;
INSERT INTO core_bbbcall (id, created, meeting_id, attendee_pw, moderator_pw, room_id, server_id,
  world_id, guest_policy, voice_bridge)
SELECT pg_temp.id('bbb'), now(), 'm', 'a', 'm', pg_temp.id('r/2'), pg_temp.id('bbbs'), w, 'ALWAYS_ACCEPT', NULL FROM p;
INSERT INTO core_bbbcall_invited_members (bbbcall_id, user_id)
SELECT pg_temp.id('bbb'), pg_temp.id('u/' || i) FROM generate_series(1, 2) i;
INSERT INTO core_rouletterequest (id, socket_id, expiry, room_id, user_id)
SELECT pg_temp.id('rr'), pg_temp.id('sock'), now(), pg_temp.id('r/3'), pg_temp.id('u/1');
INSERT INTO core_roulettepairing (id, "timestamp", room_id, user1_id, user2_id)
SELECT pg_temp.id('rp'), now(), pg_temp.id('r/3'), pg_temp.id('u/3'), pg_temp.id('u/1');
INSERT INTO core_exhibitor (id, name, tagline, short_text, logo, text_legacy, size, sorting_priority,
  room_id, world_id, banner_detail, banner_list, contact_enabled, highlighted_room_id, text_content)
SELECT pg_temp.id('ex'), 'Exhibitor', '', '', '', '', '1x1', 0, pg_temp.id('r/3'), w, '', '', true, NULL, '[]' FROM p;
INSERT INTO core_exhibitorstaff (exhibitor_id, user_id) SELECT pg_temp.id('ex'), pg_temp.id('u/1');
INSERT INTO core_exhibitorview (datetime, exhibitor_id, user_id) SELECT now(), pg_temp.id('ex'), pg_temp.id('u/1');
INSERT INTO core_contactrequest (id, state, exhibitor_id, user_id, answered_by_id, "timestamp")
SELECT pg_temp.id('cr'), 'open', pg_temp.id('ex'), pg_temp.id('u/1'), pg_temp.id('u/3'), now();
INSERT INTO core_poster (id, title, abstract, authors, tags, category, poster_url, poster_preview,
  schedule_session, parent_room_id, presentation_room_id, world_id, channel_id, import_id)
SELECT pg_temp.id('poster'), 'Poster', '{}', '{}', '[]', NULL, NULL, NULL, NULL, pg_temp.id('r/3'),
  NULL, w, pg_temp.id('dm/1'), NULL FROM p;
INSERT INTO core_posterpresenter (poster_id, user_id) SELECT pg_temp.id('poster'), pg_temp.id('u/1');
INSERT INTO core_postervote (datetime, poster_id, user_id) SELECT now(), pg_temp.id('poster'), pg_temp.id('u/1');
INSERT INTO core_webpushclient (endpoint, subscription, user_id) SELECT 'https://push/' || (SELECT w FROM p), '{}', pg_temp.id('u/1');
INSERT INTO core_user_blocked_users (from_user_id, to_user_id) SELECT pg_temp.id('u/1'), pg_temp.id('u/3');
INSERT INTO core_plannedusage (start, "end", attendees, notes, world_id)
SELECT current_date - 420, current_date - 400, 10, '', w FROM p;
INSERT INTO core_shorttoken (expires, short_token, long_token, world_id) SELECT now(), 'st' || w, 'jwt', w FROM p;
COMMIT;
