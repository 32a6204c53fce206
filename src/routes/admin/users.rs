//! `/admin/tenants/{id}/users`: a tenant's users.

use actix_web::{web, HttpResponse};

use super::{ConflictError, TenantAdmin, TenantErrors};
use crate::domain::{now, Password, UserId, Username, USERNAME_RULE};
use crate::routes::errors::AppError;
use crate::routes::json::JsonObject;
use crate::routes::views::{
    CreatedUserView, DeletedUser, DisabledUser, RevokedCounts, UserList, UserView,
};
use crate::routes::AppState;

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct CreateUser {
    username: String,
    password: String,
}

#[derive(Debug, serde::Deserialize, utoipa::ToSchema)]
pub struct NewPassword {
    password: String,
}

/// The `{user_id}` of a user's path (the tenant's `{id}` is [`TenantAdmin`]'s).
#[derive(Debug, serde::Deserialize)]
pub struct UserPath {
    user_id: UserId,
}

/// A password being set, or the refusal every endpoint gives a bad one.
fn new_password(password: String) -> Result<Password, AppError> {
    Password::new(password)
        .map_err(|_| AppError::invalid_request("a password is 8 to 1024 characters"))
}

/// `POST /admin/tenants/{id}/users`: 201 `{"id","username","tenant_id"}`.
#[utoipa::path(
    post,
    path = "/admin/tenants/{id}/users",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    request_body = CreateUser,
    responses((status = 201, body = CreatedUserView), TenantErrors, ConflictError),
    security(("bearer" = []))
)]
pub async fn create_user(
    admin: TenantAdmin,
    JsonObject(body): JsonObject<CreateUser>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let username: Username = body
        .username
        .parse()
        .map_err(|_| AppError::invalid_request(USERNAME_RULE))?;
    let password = new_password(body.password)?;
    let user = state
        .lifecycle
        .create_user(admin.actor, admin.tenant_id, username, password, now())
        .await?;
    Ok(HttpResponse::Created().json(CreatedUserView::from(&user)))
}

/// `GET /admin/tenants/{id}/users`: the users that are not deleted.
#[utoipa::path(
    get,
    path = "/admin/tenants/{id}/users",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id")),
    responses((status = 200, body = UserList), TenantErrors),
    security(("bearer" = []))
)]
pub async fn list_users(
    admin: TenantAdmin,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let users = state.lifecycle.list_users(admin.tenant_id).await?;
    Ok(HttpResponse::Ok().json(UserList {
        items: users.iter().map(UserView::from).collect(),
    }))
}

/// `PUT /admin/tenants/{id}/users/{user_id}/password`: revokes all the user's tokens.
#[utoipa::path(
    put,
    path = "/admin/tenants/{id}/users/{user_id}/password",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), ("user_id" = i64, Path, description = "user id")),
    request_body = NewPassword,
    responses((status = 200, description = "the password changed and every token of the user revoked", body = RevokedCounts), TenantErrors),
    security(("bearer" = []))
)]
pub async fn change_password(
    admin: TenantAdmin,
    path: web::Path<UserPath>,
    JsonObject(body): JsonObject<NewPassword>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let password = new_password(body.password)?;
    let counts = state
        .lifecycle
        .change_password(admin.actor, admin.tenant_id, path.user_id, password, now())
        .await?;
    Ok(HttpResponse::Ok().json(RevokedCounts::from(counts)))
}

/// `POST /admin/tenants/{id}/users/{user_id}/disable`.
#[utoipa::path(
    post,
    path = "/admin/tenants/{id}/users/{user_id}/disable",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), ("user_id" = i64, Path, description = "user id")),
    responses((status = 200, body = DisabledUser), TenantErrors),
    security(("bearer" = []))
)]
pub async fn disable_user(
    admin: TenantAdmin,
    path: web::Path<UserPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    state
        .lifecycle
        .disable_user(admin.actor, admin.tenant_id, path.user_id, now())
        .await?;
    Ok(HttpResponse::Ok().json(DisabledUser {
        id: path.user_id.get(),
        tenant_id: admin.tenant_id.get(),
        disabled: true,
    }))
}

/// `DELETE /admin/tenants/{id}/users/{user_id}`: revokes all the user's tokens.
#[utoipa::path(
    delete,
    path = "/admin/tenants/{id}/users/{user_id}",
    tag = "admin",
    params(("id" = i64, Path, description = "tenant id"), ("user_id" = i64, Path, description = "user id")),
    responses((status = 200, description = "the user deleted and every token of theirs revoked", body = DeletedUser), TenantErrors),
    security(("bearer" = []))
)]
pub async fn delete_user(
    admin: TenantAdmin,
    path: web::Path<UserPath>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, AppError> {
    let counts = state
        .lifecycle
        .delete_user(admin.actor, admin.tenant_id, path.user_id, now())
        .await?;
    Ok(HttpResponse::Ok().json(DeletedUser {
        id: path.user_id.get(),
        counts: counts.into(),
    }))
}
