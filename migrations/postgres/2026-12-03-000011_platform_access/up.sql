-- Whether platform staff may act inside the tenant through token exchange (RFC 8693; issue
-- 17). On by default; a tenant's admins (or a platform admin) turn it off with
-- PATCH /admin/tenants/{id}.
ALTER TABLE tenants ADD COLUMN platform_access BOOLEAN NOT NULL DEFAULT TRUE;
