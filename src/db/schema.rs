//! The one portable schema for both backends. Written by hand: `diesel print-schema`
//! would give SQLite's `Integer` where PostgreSQL has `BigInt`; `BigInt` reads SQLite's
//! 64-bit INTEGER correctly, so it is used for every integer id.

diesel::table! {
    tenants (id) {
        id -> BigInt,
        slug -> Text,
        name -> Text,
        status -> Text,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        suspended_at -> Nullable<Timestamp>,
        deleted_at -> Nullable<Timestamp>,
        platform_access -> Bool,
    }
}

diesel::table! {
    users (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        username -> Text,
        password_hash -> Text,
        disabled -> Bool,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        deleted_at -> Nullable<Timestamp>,
        username_checked -> Bool,
    }
}

diesel::table! {
    oauth_clients (id) {
        id -> Text,
        tenant_id -> BigInt,
        name -> Text,
        secret_hash -> Nullable<Text>,
        grant_types -> Text,
        scopes -> Text,
        personal_access -> Bool,
        revoked_at -> Nullable<Timestamp>,
        created_at -> Timestamp,
        updated_at -> Timestamp,
        redirect_uris -> Text,
        post_logout_redirect_uris -> Text,
        skip_consent -> Bool,
    }
}

diesel::table! {
    oauth_authorization_codes (code_hash) {
        code_hash -> Text,
        tenant_id -> BigInt,
        client_id -> Text,
        user_id -> BigInt,
        redirect_uri -> Text,
        redirect_uri_given -> Bool,
        pkce -> Text,
        scopes -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        access_token_id -> Nullable<Text>,
        family_id -> Nullable<Text>,
    }
}

diesel::table! {
    browser_sessions (id_hash) {
        id_hash -> Text,
        tenant_id -> BigInt,
        user_id -> BigInt,
        created_at -> Timestamp,
        last_seen_at -> Timestamp,
        expires_at -> Timestamp,
    }
}

diesel::table! {
    oauth_consents (tenant_id, user_id, client_id) {
        tenant_id -> BigInt,
        user_id -> BigInt,
        client_id -> Text,
        scopes -> Text,
        created_at -> Timestamp,
    }
}

diesel::table! {
    oauth_access_tokens (id) {
        id -> Text,
        tenant_id -> BigInt,
        client_id -> Text,
        user_id -> Nullable<BigInt>,
        kind -> Text,
        name -> Nullable<Text>,
        scopes -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        revoked_at -> Nullable<Timestamp>,
        token_hash -> Nullable<Text>,
        subject_token_id -> Nullable<Text>,
        actor_tenant_id -> Nullable<BigInt>,
        actor_client_id -> Nullable<Text>,
        actor_user_id -> Nullable<BigInt>,
        audience -> Nullable<Text>,
    }
}

diesel::table! {
    oauth_refresh_tokens (id) {
        id -> Text,
        token_hash -> Text,
        tenant_id -> BigInt,
        client_id -> Text,
        user_id -> Nullable<BigInt>,
        access_token_id -> Text,
        family_id -> Text,
        scopes -> Text,
        created_at -> Timestamp,
        expires_at -> Timestamp,
        used_at -> Nullable<Timestamp>,
        revoked_at -> Nullable<Timestamp>,
    }
}

diesel::table! {
    audit_events (id) {
        id -> BigInt,
        tenant_id -> BigInt,
        actor -> Text,
        action -> Text,
        subject -> Nullable<Text>,
        details -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::joinable!(users -> tenants (tenant_id));
diesel::joinable!(oauth_clients -> tenants (tenant_id));
diesel::joinable!(oauth_access_tokens -> tenants (tenant_id));
diesel::joinable!(oauth_refresh_tokens -> tenants (tenant_id));
diesel::joinable!(audit_events -> tenants (tenant_id));
diesel::joinable!(browser_sessions -> tenants (tenant_id));

diesel::table! {
    security_events (id) {
        id -> BigInt,
        txn -> Text,
        tenant_id -> BigInt,
        kind -> Text,
        client_id -> Nullable<Text>,
        user_id -> Nullable<BigInt>,
        token_id -> Nullable<Text>,
        created_at -> Timestamp,
    }
}

diesel::table! {
    event_streams (id) {
        id -> Text,
        tenant_id -> Nullable<BigInt>,
        delivery_method -> Text,
        audience -> Text,
        events_requested -> Text,
        status -> Text,
        created_at -> Timestamp,
        endpoint_url -> Nullable<Text>,
        authorization_header -> Nullable<Text>,
    }
}

diesel::table! {
    event_stream_deliveries (stream_id) {
        stream_id -> Text,
        attempts -> Integer,
        failing_since -> Nullable<Timestamp>,
        next_attempt_at -> Nullable<Timestamp>,
        last_error -> Nullable<Text>,
        lease_until -> Nullable<Timestamp>,
        lease_owner -> Nullable<Text>,
    }
}

diesel::table! {
    event_stream_queue (stream_id, event_id) {
        stream_id -> Text,
        event_id -> BigInt,
    }
}

diesel::joinable!(event_stream_queue -> security_events (event_id));
diesel::joinable!(event_stream_deliveries -> event_streams (stream_id));

diesel::allow_tables_to_appear_in_same_query!(
    tenants,
    users,
    oauth_clients,
    oauth_access_tokens,
    oauth_refresh_tokens,
    audit_events,
    oauth_authorization_codes,
    browser_sessions,
    oauth_consents,
    security_events,
    event_streams,
    event_stream_queue,
    event_stream_deliveries,
);
