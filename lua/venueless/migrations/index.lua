-- The migration set: the installed apps (as Django's showmigrations
-- lists them) and the migrations in the order they apply. Each entry
-- is a module returning { app, name, dependencies, replaces, group,
-- sql and/or run }; see venueless-lua(7), MIGRATIONS. A squash's file
-- is <app>/0001_squashed.lua; its name, inside, is the one Django would
-- give it. Our own migrations go after the squashes, e.g.
-- "venueless.migrations.core.0068_something".
local m = "venueless.migrations."

return {
  apps = { "auth", "contenttypes", "control", "core", "sessions", "social",
    "storage" },
  migrations = {
    m .. "contenttypes.0001_squashed",
    m .. "auth.0001_squashed",
    m .. "control.0001_squashed",
    m .. "core.0001_squashed",
    m .. "sessions.0001_initial",
    m .. "storage.0001_squashed",
  },
  -- What Django's post_migrate handlers add after a migrate that
  -- applied something: content types and their permissions.
  post_migrate = m .. "post_migrate",
}
