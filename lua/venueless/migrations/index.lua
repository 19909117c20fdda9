-- The migration set: the installed apps (as Django's showmigrations
-- lists them) and the migrations in the order they apply. Each entry
-- is a module returning { app, name, dependencies, replaces, group,
-- sql and/or run }; see venueless-lua(7), MIGRATIONS. Our own
-- migrations go after the squashes, e.g.
-- "venueless.migrations.core.0068_something".
local m = "venueless.migrations."

return {
  apps = { "auth", "contenttypes", "control", "core", "sessions", "social",
    "storage" },
  migrations = {
    m .. "contenttypes.0001_initial_squashed_0002_remove_content_type_name",
    m .. "auth.0001_initial_squashed_0012_alter_user_first_name_max_length",
    m .. "control.0001_initial_squashed_0002_auto_20210601_1751",
    m .. "core.0001_initial_squashed_0067_world_vapid_private_key_world_vapid_public_key_and_more",
    m .. "sessions.0001_initial",
    m .. "storage.0001_initial_squashed_0003_auto_20201002_1604",
  },
  -- What Django's post_migrate handlers add after a migrate that
  -- applied something: content types and their permissions.
  post_migrate = m .. "post_migrate",
}
